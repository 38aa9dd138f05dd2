//! Grammars of the identifiers used in routes.toml: route ids, secret refs, environment
//! variable names, attribution categories and model ids.

/// A route id: non-empty, no `/`, no whitespace, no control characters.
pub fn is_valid_route_id(id: &str) -> bool {
    !id.is_empty()
        && !id
            .chars()
            .any(|c| c == '/' || c.is_whitespace() || c.is_control())
}

/// A secret ref: `[a-z0-9][a-z0-9._-]*`.
pub fn is_valid_secret_ref(r: &str) -> bool {
    let mut chars = r.chars();
    match chars.next() {
        Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit() => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

/// An environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_valid_env_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// An OpenRouter attribution category: lowercase-hyphenated, `[a-z0-9]+(-[a-z0-9]+)*`.
pub fn is_valid_category(category: &str) -> bool {
    !category.is_empty()
        && category.split('-').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// Whether a string looks like a provider API key (`sk-…`), so that a key pasted into a
/// name field can be refused with a hint instead of being kept in the configuration.
pub fn looks_like_api_key(s: &str) -> bool {
    s.starts_with("sk-")
}

/// Checks a model id (`vendor/model[:variant]`, `auto`, …): non-empty, no whitespace or
/// control characters, no leading, trailing or doubled `/`. Returns the rule broken.
pub fn check_model_id(model: &str) -> Result<(), &'static str> {
    if model.is_empty() {
        return Err("a non-empty model id");
    }
    if model.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a model id without whitespace");
    }
    if model.starts_with('/') || model.ends_with('/') || model.contains("//") {
        return Err("a model id like \"vendor/model\" (no empty segment around a `/`)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_ids() {
        assert!(is_valid_route_id("openrouter"));
        assert!(is_valid_route_id("work.proxy-2"));
        assert!(!is_valid_route_id(""));
        assert!(!is_valid_route_id("a/b"));
        assert!(!is_valid_route_id("a b"));
        assert!(!is_valid_route_id("a\tb"));
    }

    #[test]
    fn secret_refs() {
        assert!(is_valid_secret_ref("openrouter.primary"));
        assert!(is_valid_secret_ref("0key_a-b"));
        assert!(!is_valid_secret_ref(""));
        assert!(!is_valid_secret_ref(".hidden"));
        assert!(!is_valid_secret_ref("-x"));
        assert!(!is_valid_secret_ref("Upper"));
        assert!(!is_valid_secret_ref("a/b"));
    }

    #[test]
    fn env_var_names() {
        assert!(is_valid_env_var_name("OPENROUTER_API_KEY"));
        assert!(is_valid_env_var_name("_x1"));
        assert!(!is_valid_env_var_name("1X"));
        assert!(!is_valid_env_var_name("A-B"));
        assert!(!is_valid_env_var_name(""));
    }

    #[test]
    fn categories() {
        assert!(is_valid_category("cli-agent"));
        assert!(is_valid_category("a1"));
        assert!(!is_valid_category("CLI"));
        assert!(!is_valid_category("-a"));
        assert!(!is_valid_category("a-"));
        assert!(!is_valid_category("a--b"));
        assert!(!is_valid_category("a_b"));
        assert!(!is_valid_category(""));
    }

    #[test]
    fn model_ids() {
        assert!(check_model_id("openai/gpt-5.4-mini").is_ok());
        assert!(check_model_id("meta-llama/llama-3:free").is_ok());
        assert!(check_model_id("auto").is_ok());
        assert!(check_model_id("").is_err());
        assert!(check_model_id("a b").is_err());
        assert!(check_model_id("/a").is_err());
        assert!(check_model_id("a/").is_err());
        assert!(check_model_id("a//b").is_err());
    }

    #[test]
    fn api_key_lookalikes() {
        assert!(looks_like_api_key("sk-or-v1-abc"));
        assert!(!looks_like_api_key("openrouter.primary"));
    }
}
