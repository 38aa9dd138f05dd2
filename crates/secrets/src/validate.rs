//! Grammar checks for secret refs and provider names (`[a-z0-9][a-z0-9._-]*`).
//!
//! Error reasons never echo the whole input: a ref is sometimes a pasted key by
//! mistake, so only the offending character and its position are named.

use crate::error::SecretsError;

/// Longest ref accepted, in bytes (all accepted characters are ASCII).
pub const MAX_REF_LEN: usize = 128;
/// Longest provider name accepted.
pub const MAX_PROVIDER_LEN: usize = 64;

/// Checks a secret ref: `[a-z0-9][a-z0-9._-]*`, at most [`MAX_REF_LEN`] characters,
/// and not something that looks like an OpenRouter key.
pub fn validate_ref(r: &str) -> Result<(), SecretsError> {
    check_name(r, MAX_REF_LEN).map_err(|reason| SecretsError::InvalidRef { reason })?;
    if r.starts_with("sk-or-") {
        return Err(SecretsError::InvalidRef {
            reason: "it looks like an OpenRouter API key, not a name; a ref names the key, \
                     e.g. openrouter.primary"
                .to_owned(),
        });
    }
    Ok(())
}

/// Checks a provider name: `[a-z0-9][a-z0-9._-]*`, at most [`MAX_PROVIDER_LEN`]
/// characters.
pub fn validate_provider(p: &str) -> Result<(), SecretsError> {
    check_name(p, MAX_PROVIDER_LEN).map_err(|reason| SecretsError::InvalidProvider { reason })
}

fn check_name(name: &str, max_len: usize) -> Result<(), String> {
    const ALLOWED: &str = "use lowercase letters, digits, '.', '_' and '-', starting with a \
                           letter or digit";
    if name.is_empty() {
        return Err(format!("it is empty; {ALLOWED}"));
    }
    let len = name.chars().count();
    if len > max_len {
        return Err(format!(
            "it is {len} characters long; at most {max_len} are allowed"
        ));
    }
    for (i, c) in name.chars().enumerate() {
        let ok =
            c.is_ascii_lowercase() || c.is_ascii_digit() || (i > 0 && matches!(c, '.' | '_' | '-'));
        if !ok {
            return Err(format!(
                "character {} ({}) is not allowed there; {ALLOWED}",
                i + 1,
                c.escape_default()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_grammar() {
        for ok in [
            "openrouter.primary",
            "a",
            "0",
            "a-b_c.d",
            "x9",
            &"a".repeat(128),
        ] {
            assert!(validate_ref(ok).is_ok(), "{ok}");
        }
        assert!(validate_provider("openrouter").is_ok());
    }

    #[test]
    fn rejects_outside_grammar() {
        for bad in [
            "",
            ".hidden",
            "-dash",
            "_under",
            "Upper",
            "with space",
            "slash/ref",
            "emoji🙂",
            "tab\t",
            &"a".repeat(129),
        ] {
            let err = validate_ref(bad).unwrap_err();
            assert!(matches!(err, SecretsError::InvalidRef { .. }), "{bad:?}");
        }
        assert!(matches!(
            validate_provider("OpenRouter"),
            Err(SecretsError::InvalidProvider { .. })
        ));
        assert!(validate_provider(&"p".repeat(65)).is_err());
    }

    #[test]
    fn rejects_a_pasted_key_without_echoing_it() {
        let pasted = "sk-or-v1-0123456789abcdef0123456789abcdef";
        let err = validate_ref(pasted).unwrap_err();
        assert!(!err.to_string().contains("0123456789"), "{err}");
        let pasted_upper = "sk-or-v1-0123456789ABCDEF";
        let err = validate_ref(pasted_upper).unwrap_err();
        assert!(!err.to_string().contains("0123456789"), "{err}");
    }
}
