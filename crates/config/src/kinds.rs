//! The small string-valued enums of routes.toml (driver, thinking level, …), each with
//! `as_str`, `FromStr` and string serialization.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};
use thiserror::Error;

/// A string did not name a variant of one of these enums. The message lists the valid
/// values but never repeats the rejected input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown {what}; valid values: {}", valid.join(", "))]
pub struct UnknownVariant {
    /// What was being parsed ("thinking level", …).
    pub what: &'static str,
    /// The accepted spellings.
    pub valid: &'static [&'static str],
}

macro_rules! str_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal, valid = $valid:expr, aliases = [$(($alias:literal, $alias_to:ident)),*],
        { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every accepted spelling, aliases included (for error messages).
            pub const VALID: &'static [&'static str] = $valid;

            /// The canonical spelling.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    $($alias => Ok($name::$alias_to),)*
                    _ => Err(UnknownVariant { what: $what, valid: Self::VALID }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

str_enum! {
    /// The backend a route talks to. OpenRouter is the only driver today.
    DriverKind, "driver", valid = &["openrouter"], aliases = [],
    {
        /// OpenRouter's OpenAI-compatible API.
        OpenRouter => "openrouter",
    }
}

str_enum! {
    /// Which models a route accepts.
    ModelSupport, "model_support", valid = &["any", "listed"], aliases = [],
    {
        /// Any model id.
        Any => "any",
        /// Only `default_model`, `fallbacks` and the keys of `[models]`.
        Listed => "listed",
    }
}

str_enum! {
    /// Whether replies are also spoken (TTS) by default.
    SpeakReplies, "speak_replies", valid = &["off", "always"], aliases = [],
    {
        /// Never.
        Off => "off",
        /// Every reply.
        Always => "always",
    }
}

str_enum! {
    /// The audio format of text-to-speech output.
    TtsFormat, "tts_format", valid = &["mp3", "pcm"], aliases = [],
    {
        /// MPEG audio.
        Mp3 => "mp3",
        /// 16-bit little-endian mono PCM (stored as WAV).
        Pcm => "pcm",
    }
}

str_enum! {
    /// Reasoning effort. `max` is accepted as `xhigh` and `adaptive` as `medium`.
    ThinkingLevel, "thinking level",
    valid = &["off", "minimal", "low", "medium", "high", "xhigh", "max (= xhigh)", "adaptive (= medium)"],
    aliases = [("max", Xhigh), ("adaptive", Medium)],
    {
        /// No reasoning.
        Off => "off",
        /// Minimal effort.
        Minimal => "minimal",
        /// Low effort.
        Low => "low",
        /// Medium effort.
        Medium => "medium",
        /// High effort.
        High => "high",
        /// Extra-high effort.
        Xhigh => "xhigh",
    }
}

str_enum! {
    /// TTL of Anthropic prompt-cache markers.
    CacheControlTtl, "cache_control_ttl", valid = &["5m", "1h", "none"], aliases = [],
    {
        /// The default five-minute cache (`cache_control: {type: "ephemeral"}`).
        FiveMinutes => "5m",
        /// One hour (`ttl: "1h"`).
        OneHour => "1h",
        /// No cache markers at all.
        None => "none",
    }
}

/// Every accepted spelling of a thinking level and the level it means (for tests here and
/// in the routes-file tests).
#[cfg(test)]
pub(crate) const THINKING_SPELLINGS: &[(&str, ThinkingLevel)] = &[
    ("off", ThinkingLevel::Off),
    ("minimal", ThinkingLevel::Minimal),
    ("low", ThinkingLevel::Low),
    ("medium", ThinkingLevel::Medium),
    ("high", ThinkingLevel::High),
    ("xhigh", ThinkingLevel::Xhigh),
    ("max", ThinkingLevel::Xhigh),
    ("adaptive", ThinkingLevel::Medium),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinking_levels_and_aliases() {
        for (text, level) in THINKING_SPELLINGS {
            assert_eq!(text.parse::<ThinkingLevel>(), Ok(*level), "{text}");
        }
        assert_eq!(ThinkingLevel::Xhigh.as_str(), "xhigh");
        assert_eq!(
            serde_json::to_value(ThinkingLevel::High).unwrap(),
            serde_json::json!("high")
        );
    }

    #[test]
    fn unknown_variants_list_valid_values_without_echoing_input() {
        let err = "sk-or-v1-SECRET".parse::<ThinkingLevel>().unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("xhigh") && msg.contains("max (= xhigh)"),
            "{msg}"
        );
        assert!(!msg.contains("SECRET"));
        assert!("High".parse::<ThinkingLevel>().is_err());
        assert!("openai".parse::<DriverKind>().is_err());
        assert_eq!("openrouter".parse(), Ok(DriverKind::OpenRouter));
    }

    #[test]
    fn other_enums_round_trip() {
        for v in [ModelSupport::Any, ModelSupport::Listed] {
            assert_eq!(v.as_str().parse(), Ok(v));
        }
        for v in [SpeakReplies::Off, SpeakReplies::Always] {
            assert_eq!(v.as_str().parse(), Ok(v));
        }
        for v in [TtsFormat::Mp3, TtsFormat::Pcm] {
            assert_eq!(v.as_str().parse(), Ok(v));
        }
        for v in [
            CacheControlTtl::FiveMinutes,
            CacheControlTtl::OneHour,
            CacheControlTtl::None,
        ] {
            assert_eq!(v.as_str().parse(), Ok(v));
        }
        assert!("wav".parse::<TtsFormat>().is_err());
    }
}
