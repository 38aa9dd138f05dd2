//! The final answer of a run: plain model text, or what `emit_output` composed. Assets a
//! tool produced are part of the answer only when `emit_output` names them in `parts` or
//! sets `include_artifacts_inline` (spec §7).

use serde::{Deserialize, Serialize};

use super::args::{EmitOutputArgs, EmitPart};

pub use ferry_types::AssetRef;

/// One part of a run's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputPart {
    Text {
        text: String,
    },
    Asset {
        asset_id: String,
        media_type: String,
        size: u64,
    },
}

impl OutputPart {
    fn asset(a: &AssetRef) -> OutputPart {
        OutputPart::Asset {
            asset_id: a.asset_id.clone(),
            media_type: a.media_type.clone(),
            size: a.size,
        }
    }

    fn asset_id(&self) -> Option<&str> {
        match self {
            OutputPart::Asset { asset_id, .. } => Some(asset_id),
            OutputPart::Text { .. } => None,
        }
    }
}

/// What `emit_output` composed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    /// The text parts joined by blank lines.
    pub text: String,
    pub parts: Vec<OutputPart>,
}

/// The asset ids an `emit_output` call names (to look up before [`compose`]).
pub fn named_asset_ids(args: &EmitOutputArgs) -> Vec<&str> {
    args.parts
        .iter()
        .filter_map(|p| match p {
            EmitPart::Asset { asset_id } => Some(asset_id.as_str()),
            EmitPart::Text { .. } => None,
        })
        .collect()
}

/// Composes the final answer: `content` first, then `parts` in order (each named asset
/// must be one `produced` in this run or one of the `known` stored assets), then — with
/// `include_artifacts_inline` — every produced asset not named yet. An error is a message
/// for the model (it can call again).
pub fn compose(
    args: &EmitOutputArgs,
    produced: &[AssetRef],
    known: &[AssetRef],
) -> Result<Composed, String> {
    let mut parts: Vec<OutputPart> = Vec::new();
    let push_text = |parts: &mut Vec<OutputPart>, text: &str| {
        if !text.trim().is_empty() {
            parts.push(OutputPart::Text {
                text: text.to_owned(),
            });
        }
    };
    if let Some(content) = &args.content {
        push_text(&mut parts, content);
    }
    for part in &args.parts {
        match part {
            EmitPart::Text { text } => push_text(&mut parts, text),
            EmitPart::Asset { asset_id } => {
                let found = produced
                    .iter()
                    .chain(known)
                    .find(|a| a.asset_id == *asset_id)
                    .ok_or_else(|| unknown_asset(asset_id, produced))?;
                if !parts.iter().any(|p| p.asset_id() == Some(asset_id)) {
                    parts.push(OutputPart::asset(found));
                }
            }
        }
    }
    if args.include_artifacts_inline {
        for a in produced {
            if !parts.iter().any(|p| p.asset_id() == Some(&a.asset_id)) {
                parts.push(OutputPart::asset(a));
            }
        }
    }
    if parts.is_empty() {
        return Err(
            "emit_output composed nothing: give content, parts, or include_artifacts_inline: true with assets produced in this turn"
                .into(),
        );
    }
    Ok(Composed {
        text: text_of(&parts),
        parts,
    })
}

/// The text parts joined by blank lines.
pub fn text_of(parts: &[OutputPart]) -> String {
    parts
        .iter()
        .filter_map(|p| match p {
            OutputPart::Text { text } => Some(text.as_str()),
            OutputPart::Asset { .. } => None,
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn unknown_asset(id: &str, produced: &[AssetRef]) -> String {
    if produced.is_empty() {
        format!("asset {id} does not exist; no asset was produced in this turn")
    } else {
        let ids: Vec<&str> = produced.iter().map(|a| a.asset_id.as_str()).collect();
        format!(
            "asset {id} does not exist; assets produced in this turn: {}",
            ids.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(id: &str, media_type: &str) -> AssetRef {
        AssetRef {
            asset_id: id.into(),
            media_type: media_type.into(),
            size: 10,
        }
    }

    fn emit(content: Option<&str>, parts: Vec<EmitPart>, inline: bool) -> EmitOutputArgs {
        EmitOutputArgs {
            content: content.map(str::to_owned),
            parts,
            include_artifacts_inline: inline,
        }
    }

    #[test]
    fn named_assets_in_order_after_content() {
        let produced = [asset("img", "image/png"), asset("snd", "audio/mpeg")];
        let args = emit(
            Some("Here is your fox."),
            vec![
                EmitPart::Asset {
                    asset_id: "img".into(),
                },
                EmitPart::Text {
                    text: "Enjoy.".into(),
                },
                EmitPart::Asset {
                    asset_id: "img".into(),
                },
            ],
            false,
        );
        let c = compose(&args, &produced, &[]).unwrap();
        assert_eq!(c.text, "Here is your fox.\n\nEnjoy.");
        assert_eq!(
            c.parts.len(),
            3,
            "repeated asset once; unnamed audio left out"
        );
        assert_eq!(c.parts[1], OutputPart::asset(&produced[0]));
        assert_eq!(named_asset_ids(&args), vec!["img", "img"]);
    }

    #[test]
    fn include_artifacts_inline_appends_the_rest() {
        let produced = [asset("img", "image/png"), asset("snd", "audio/mpeg")];
        let args = emit(
            None,
            vec![EmitPart::Asset {
                asset_id: "snd".into(),
            }],
            true,
        );
        let c = compose(&args, &produced, &[]).unwrap();
        let ids: Vec<_> = c.parts.iter().filter_map(OutputPart::asset_id).collect();
        assert_eq!(ids, vec!["snd", "img"]);
        assert_eq!(c.text, "");
    }

    #[test]
    fn known_assets_from_earlier_turns_may_be_named() {
        let old = [asset("old", "image/jpeg")];
        let args = emit(
            None,
            vec![EmitPart::Asset {
                asset_id: "old".into(),
            }],
            false,
        );
        assert_eq!(compose(&args, &[], &old).unwrap().parts.len(), 1);
    }

    #[test]
    fn unknown_ids_and_empty_answers_are_errors() {
        let produced = [asset("img", "image/png")];
        let args = emit(
            None,
            vec![EmitPart::Asset {
                asset_id: "nope".into(),
            }],
            false,
        );
        let e = compose(&args, &produced, &[]).unwrap_err();
        assert!(e.contains("nope") && e.contains("img"), "{e}");
        let e = compose(&emit(Some("  "), vec![], false), &[], &[]).unwrap_err();
        assert!(e.contains("composed nothing"), "{e}");
        assert!(compose(&emit(None, vec![], true), &[], &[]).is_err());
    }
}
