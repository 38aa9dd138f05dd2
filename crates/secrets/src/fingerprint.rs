//! Short, non-reversible display forms of secret values (`sk-or-…a1b2`), used wherever
//! a value must be recognisable but never shown.

/// The prefix every OpenRouter API key starts with.
pub const OPENROUTER_KEY_PREFIX: &str = "sk-or-";

/// Values shorter than this show only their last two characters.
const SHORT_VALUE_CHARS: usize = 12;
/// Values this short or shorter show nothing but the ellipsis.
const TINY_VALUE_CHARS: usize = 4;

/// A fingerprint of a value: `sk-or-…` plus the last 4 characters for OpenRouter keys,
/// otherwise the first 2 and last 4 characters (`ab…wxyz`). Values shorter than 12
/// characters show `…` and their last 2 characters; values of 4 characters or fewer show
/// only `…`, since two characters would be half the value.
pub fn fingerprint(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    let tail = |k: usize| -> String { chars[n - k..].iter().collect() };
    if n <= TINY_VALUE_CHARS {
        "…".to_owned()
    } else if n < SHORT_VALUE_CHARS {
        format!("…{}", tail(2))
    } else if value.starts_with(OPENROUTER_KEY_PREFIX) {
        format!("{OPENROUTER_KEY_PREFIX}…{}", tail(4))
    } else {
        let head: String = chars[..2].iter().collect();
        format!("{head}…{}", tail(4))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openrouter_keys_show_prefix_and_last_four() {
        assert_eq!(
            fingerprint("sk-or-v1-0123456789abcdef0123456789abcdefa1b2"),
            "sk-or-…a1b2"
        );
    }

    #[test]
    fn other_values_show_two_and_four() {
        assert_eq!(fingerprint("ghp_abcdefghijklmnop1234"), "gh…1234");
        assert_eq!(fingerprint("abcdefghijkl"), "ab…ijkl");
    }

    #[test]
    fn short_values_show_last_two_only() {
        assert_eq!(fingerprint("sk-or-v1-ab"), "…ab");
        assert_eq!(fingerprint("hunter2"), "…r2");
        assert_eq!(fingerprint("abcde"), "…de");
    }

    #[test]
    fn tiny_values_show_nothing() {
        assert_eq!(fingerprint("abcd"), "…");
        assert_eq!(fingerprint("x"), "…");
        assert_eq!(fingerprint(""), "…");
    }

    #[test]
    fn multibyte_values_do_not_panic() {
        assert_eq!(fingerprint("ééééééééééééé1234"), "éé…1234");
    }
}
