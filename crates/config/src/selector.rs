//! Selector grammar and target precedence, as pure functions.
//!
//! A selector is `ROUTE/MODEL` when the part before the first `/` is a known route id,
//! otherwise the whole string is a model on the chosen route. OpenRouter model ids have
//! exactly one `/` (`vendor/model[:variant]`), so a selector with two or more `/` whose
//! first segment is not a known route is a mistyped route and is rejected.
//!
//! Precedence: per-input (`provider`/`model`) > session pin > runtime model > route default.

use std::fmt;

use serde::Serialize;
use thiserror::Error;

use crate::kinds::DriverKind;
use crate::names::check_model_id;
use crate::route::{Route, RoutesFile};

/// A resolved route and model. `model` is as configured (route prefix removed), not yet
/// mapped for the wire (see [`wire_model`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Target {
    /// The route id.
    pub route: String,
    /// The model on that route.
    pub model: String,
}

impl Target {
    /// The canonical selector `ROUTE/MODEL`; store pins and runtime models in this form.
    pub fn selector(&self) -> String {
        format!("{}/{}", self.route, self.model)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.route, self.model)
    }
}

/// Everything that may pick a target, most specific first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SelectorInputs<'a> {
    /// Per-input route (`--provider`).
    pub provider: Option<&'a str>,
    /// Per-input selector (`--model`).
    pub model: Option<&'a str>,
    /// The session's pinned selector.
    pub session_pin: Option<&'a str>,
    /// The runtime model (`ferry runtime set-model`).
    pub runtime_model: Option<&'a str>,
}

/// Where a selector came from (named in error messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectorOrigin {
    /// Given with the request or on the command line.
    Input,
    /// The session's pinned selector.
    SessionPin,
    /// The runtime model.
    RuntimeModel,
}

impl fmt::Display for SelectorOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SelectorOrigin::Input => "selector",
            SelectorOrigin::SessionPin => "the session's pinned selector",
            SelectorOrigin::RuntimeModel => "the runtime model (`ferry runtime set-model`)",
        })
    }
}

/// Why a selector or a combination of inputs could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SelectorError {
    /// Nothing but whitespace.
    #[error("empty {origin}; give MODEL or ROUTE/MODEL, e.g. openrouter/openai/gpt-5.4-mini")]
    Empty {
        /// Where it came from.
        origin: SelectorOrigin,
    },
    /// `ROUTE/` with nothing after it.
    #[error("{origin} names route \"{route}\" but no model; give ROUTE/MODEL, e.g. {route}/openai/gpt-5.4-mini")]
    EmptyModel {
        /// Where it came from.
        origin: SelectorOrigin,
        /// The route.
        route: String,
    },
    /// The model part breaks the model-id grammar.
    #[error("invalid {origin}: the model must be {rule}; give MODEL or ROUTE/MODEL, e.g. openrouter/openai/gpt-5.4-mini")]
    InvalidModel {
        /// Where it came from.
        origin: SelectorOrigin,
        /// The rule broken.
        rule: &'static str,
    },
    /// Two or more `/` and the first segment is not a route.
    #[error(
        "unknown route \"{route}\" in {origin}; known routes: {known} (see `ferry runtime get`)"
    )]
    UnknownRoute {
        /// Where it came from.
        origin: SelectorOrigin,
        /// The first segment.
        route: String,
        /// The known route ids, comma-separated.
        known: String,
    },
    /// `--provider` names no route.
    #[error("unknown route \"{route}\" given as provider; known routes: {known} (see `ferry runtime get`)")]
    UnknownProvider {
        /// The provider given.
        route: String,
        /// The known route ids, comma-separated.
        known: String,
    },
    /// `--provider` and the selector's route prefix disagree.
    #[error("provider \"{provider}\" contradicts the route \"{prefix}\" in the model selector; drop one of them or make them match")]
    ProviderConflict {
        /// The provider given.
        provider: String,
        /// The selector's route prefix.
        prefix: String,
    },
    /// The route only accepts listed models and this one is not listed.
    #[error("route \"{route}\" accepts only its listed models (model_support = \"listed\") and \"{model}\" is not one of them; listed: {listed}; pick one of those or add the model under [routes.{route}.models]")]
    ModelNotListed {
        /// The route.
        route: String,
        /// The model asked for.
        model: String,
        /// The listed models, comma-separated.
        listed: String,
    },
}

fn known_routes(routes: &RoutesFile) -> String {
    routes.route_ids().join(", ")
}

fn parse_from(
    routes: &RoutesFile,
    selector: &str,
    origin: SelectorOrigin,
) -> Result<(Option<String>, String), SelectorError> {
    let s = selector.trim();
    if s.is_empty() {
        return Err(SelectorError::Empty { origin });
    }
    let invalid = |rule| SelectorError::InvalidModel { origin, rule };
    if let Some((head, rest)) = s.split_once('/') {
        if routes.routes.contains_key(head) {
            if rest.is_empty() {
                return Err(SelectorError::EmptyModel {
                    origin,
                    route: head.to_string(),
                });
            }
            check_model_id(rest).map_err(invalid)?;
            return Ok((Some(head.to_string()), rest.to_string()));
        }
        check_model_id(s).map_err(invalid)?;
        if rest.contains('/') {
            return Err(SelectorError::UnknownRoute {
                origin,
                route: head.to_string(),
                known: known_routes(routes),
            });
        }
        return Ok((None, s.to_string()));
    }
    check_model_id(s).map_err(invalid)?;
    Ok((None, s.to_string()))
}

/// Splits a selector into `(route prefix if it names a known route, model)`.
pub fn parse_selector(
    routes: &RoutesFile,
    selector: &str,
) -> Result<(Option<String>, String), SelectorError> {
    parse_from(routes, selector, SelectorOrigin::Input)
}

/// A stored selector (pin or runtime model) as a full target; a bare model is on the
/// default route.
fn stored_target(
    routes: &RoutesFile,
    selector: &str,
    origin: SelectorOrigin,
) -> Result<Target, SelectorError> {
    let (route, model) = parse_from(routes, selector, origin)?;
    Ok(Target {
        route: route.unwrap_or_else(|| routes.default_route.clone()),
        model,
    })
}

/// Resolves the target of one input by precedence: the route is `provider`, else the
/// input model's route prefix, else the session pin's route, else the runtime model's
/// route, else `default_route`; the model is the input model, else the pin's model if the
/// pin is on that route, else the runtime model if it is on that route, else the route's
/// `default_model`. A stored selector is only looked at when it can still decide something.
pub fn resolve_target(
    routes: &RoutesFile,
    inputs: &SelectorInputs,
) -> Result<Target, SelectorError> {
    let provider = match inputs.provider.map(str::trim) {
        None => None,
        Some(p) if routes.routes.contains_key(p) => Some(p.to_string()),
        Some(p) => {
            return Err(SelectorError::UnknownProvider {
                route: p.to_string(),
                known: known_routes(routes),
            })
        }
    };
    let input = inputs
        .model
        .map(|m| parse_from(routes, m, SelectorOrigin::Input))
        .transpose()?;
    if let (Some(p), Some((Some(prefix), _))) = (&provider, &input) {
        if p != prefix {
            return Err(SelectorError::ProviderConflict {
                provider: p.clone(),
                prefix: prefix.clone(),
            });
        }
    }
    let (input_route, input_model) = match input {
        Some((prefix, model)) => (provider.or(prefix), Some(model)),
        None => (provider, None),
    };

    let mut route = input_route;
    let mut model = input_model;
    for (stored, origin) in [
        (inputs.session_pin, SelectorOrigin::SessionPin),
        (inputs.runtime_model, SelectorOrigin::RuntimeModel),
    ] {
        if route.is_some() && model.is_some() {
            break;
        }
        let Some(stored) = stored else { continue };
        let t = stored_target(routes, stored, origin)?;
        let chosen = route.get_or_insert_with(|| t.route.clone());
        if model.is_none() && *chosen == t.route {
            model = Some(t.model);
        }
    }

    let route_id = route.unwrap_or_else(|| routes.default_route.clone());
    let Some(r) = routes.route(&route_id) else {
        return Err(SelectorError::UnknownRoute {
            origin: SelectorOrigin::Input,
            route: route_id,
            known: known_routes(routes),
        });
    };
    let model = model.unwrap_or_else(|| r.default_model.clone());
    check_listed(r, &model)?;
    Ok(Target {
        route: route_id,
        model,
    })
}

fn check_listed(route: &Route, model: &str) -> Result<(), SelectorError> {
    if route.accepts_model(model) {
        Ok(())
    } else {
        Err(SelectorError::ModelNotListed {
            route: route.id.clone(),
            model: model.to_string(),
            listed: route.listed_models().join(", "),
        })
    }
}

/// Validates a selector on its own (for `runtime set-model`): a bare model is on the
/// default route.
pub fn validate_selector(routes: &RoutesFile, selector: &str) -> Result<Target, SelectorError> {
    resolve_target(
        routes,
        &SelectorInputs {
            model: Some(selector),
            ..SelectorInputs::default()
        },
    )
}

/// The model id to send: the bare `auto` means `openrouter/auto` on OpenRouter routes, and
/// on the verified openrouter.ai endpoint any bare id means `openrouter/<id>`; everything
/// else is sent unchanged.
pub fn wire_model(route: &Route, model: &str) -> String {
    match route.driver {
        DriverKind::OpenRouter if model == "auto" => "openrouter/auto".to_string(),
        // Every OpenRouter model id has a vendor prefix, so on the real OpenRouter a bare id
        // can only be one of OpenRouter's own (`openrouter/hunter-alpha`) — which is exactly
        // what a selector like `openrouter/hunter-alpha` leaves after the route prefix.
        DriverKind::OpenRouter if route.is_verified_openrouter() && !model.contains('/') => {
            format!("openrouter/{model}")
        }
        DriverKind::OpenRouter => model.to_string(),
    }
}
