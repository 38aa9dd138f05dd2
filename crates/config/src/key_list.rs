//! Key lists joined at compile time, so a list that is part of another (the OpenAI
//! params inside the params keys, the capability flags inside a route's keys) is
//! written once.

/// `a` followed by `b`, as an array of `N = a.len() + b.len()` keys (any other `N` is a
/// compile-time error where the result is a constant).
pub const fn join_keys<const N: usize>(
    a: &[&'static str],
    b: &[&'static str],
) -> [&'static str; N] {
    assert!(a.len() + b.len() == N, "N must be the two lengths added");
    let mut out = [""; N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < b.len() {
        out[i + j] = b[j];
        j += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_in_order() {
        const A: &[&str] = &["a", "b"];
        const B: &[&str] = &["c"];
        const AB: [&str; 3] = join_keys::<3>(A, B);
        assert_eq!(AB, ["a", "b", "c"]);
        assert_eq!(join_keys::<2>(&[], &["x", "y"]), ["x", "y"]);
    }

    #[test]
    #[should_panic(expected = "N must be the two lengths added")]
    fn a_wrong_length_is_refused() {
        let _ = join_keys::<4>(&["a"], &["b"]);
    }
}
