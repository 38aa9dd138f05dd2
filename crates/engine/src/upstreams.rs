//! `Upstreams`: the one place a route becomes a provider handle and the key to send with
//! it. Built once from the route table (one [`OpenRouterClient`] per route, or an injected
//! [`Provider`] in tests), the secret store and the same-model retry policy; every
//! upstream call of the engine gets its provider and key here.
//!
//! Invariants: keys live only in [`ApiKey`] (zeroizing, never printed); a virtual key's
//! provisioned OpenRouter key is used only on its own route, else the route's key.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use ferry_config::Route;
use ferry_openrouter::{
    open_pass_with_retries, open_raw_with_retries, Attempt, ChatRequest, OpenRouterClient,
    PassRequest, Provider, RawReply, RetryPolicy, UpstreamError,
};
use zeroize::Zeroizing;

use crate::routes::RouteTable;
use crate::secrets::SecretsHandle;
use crate::EngineError;

/// A route's provider: the real OpenRouter client, or an injected one. The facade's raw
/// pass-through calls the client without boxing its future (the hot path); everything
/// else goes through `dyn Provider`.
#[derive(Clone)]
pub(crate) enum ProviderHandle {
    OpenRouter(Arc<OpenRouterClient>),
    Injected(Arc<dyn Provider>),
}

impl Deref for ProviderHandle {
    type Target = dyn Provider;

    fn deref(&self) -> &(dyn Provider + 'static) {
        match self {
            ProviderHandle::OpenRouter(c) => &**c,
            ProviderHandle::Injected(p) => &**p,
        }
    }
}

impl ProviderHandle {
    /// [`Provider::open_raw`], statically dispatched for the OpenRouter client.
    pub(crate) async fn open_raw(
        &self,
        api_key: &str,
        req: &ChatRequest,
        policy: &RetryPolicy,
        collect_text: bool,
        attempts: &mut Vec<Attempt>,
        upstream_wait: &mut Duration,
    ) -> Result<RawReply, UpstreamError> {
        match self {
            ProviderHandle::OpenRouter(c) => {
                open_raw_with_retries(
                    c,
                    api_key,
                    req,
                    policy,
                    collect_text,
                    attempts,
                    upstream_wait,
                )
                .await
            }
            ProviderHandle::Injected(p) => {
                p.open_raw(api_key, req, policy, collect_text, attempts, upstream_wait)
                    .await
            }
        }
    }

    /// [`Provider::open_pass`], statically dispatched for the OpenRouter client.
    pub(crate) async fn open_pass(
        &self,
        api_key: &str,
        req: &PassRequest,
        policy: &RetryPolicy,
        collect_text: bool,
        attempts: &mut Vec<Attempt>,
        upstream_wait: &mut Duration,
    ) -> Result<RawReply, UpstreamError> {
        match self {
            ProviderHandle::OpenRouter(c) => {
                open_pass_with_retries(
                    c,
                    api_key,
                    req,
                    policy,
                    collect_text,
                    attempts,
                    upstream_wait,
                )
                .await
            }
            ProviderHandle::Injected(p) => {
                p.open_pass(api_key, req, policy, collect_text, attempts, upstream_wait)
                    .await
            }
        }
    }
}

/// An API key to send upstream (zeroized on drop, never printed).
pub(crate) struct ApiKey(Zeroizing<String>);

impl Deref for ApiKey {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(…)")
    }
}

/// A route's provider and the key to call it with.
pub(crate) struct Upstream {
    pub(crate) provider: ProviderHandle,
    pub(crate) key: ApiKey,
}

/// A virtual key's own OpenRouter key on one route (`--upstream-limit`).
pub(crate) struct Provisioned<'a> {
    /// The virtual key's id (named in a warning when its secret is missing).
    pub(crate) key_id: &'a str,
    /// The route the provisioned key is for.
    pub(crate) route: &'a str,
    /// Where the provisioned key is stored.
    pub(crate) secret_ref: &'a str,
}

/// Route → provider + key, for every upstream call.
pub(crate) struct Upstreams {
    providers: BTreeMap<String, Result<ProviderHandle, String>>,
    secrets: Arc<SecretsHandle>,
    retry: RetryPolicy,
}

impl Upstreams {
    /// The routes' OpenRouter clients, replaced by `injected` where a route names one.
    pub(crate) fn new(
        table: &RouteTable,
        secrets: Arc<SecretsHandle>,
        retry: RetryPolicy,
        mut injected: BTreeMap<String, Arc<dyn Provider>>,
    ) -> Upstreams {
        let providers = table
            .file()
            .routes
            .keys()
            .map(|id| {
                let provider = match injected.remove(id) {
                    Some(p) => Ok(ProviderHandle::Injected(p)),
                    None => table
                        .openrouter_client(id)
                        .map(ProviderHandle::OpenRouter)
                        .map_err(|e| e.to_string()),
                };
                (id.clone(), provider)
            })
            .collect();
        Upstreams {
            providers,
            secrets,
            retry,
        }
    }

    /// The same-model retry policy.
    pub(crate) fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The route's provider, without a key (management calls bring their own).
    pub(crate) fn provider(&self, route: &str) -> Result<ProviderHandle, EngineError> {
        match self.providers.get(route) {
            Some(Ok(p)) => Ok(p.clone()),
            Some(Err(message)) => Err(EngineError::RouteNotReady {
                route: route.to_string(),
                message: message.clone(),
            }),
            None => Err(EngineError::NotFound {
                what: "route",
                id: route.to_string(),
            }),
        }
    }

    /// The route's provider with the route's own key.
    pub(crate) fn upstream(&self, route: &Route) -> Result<Upstream, EngineError> {
        self.upstream_for(route, None)
    }

    /// The route's provider with `provisioned`'s key when it is for this route and stored,
    /// else the route's own key.
    pub(crate) fn upstream_for(
        &self,
        route: &Route,
        provisioned: Option<Provisioned<'_>>,
    ) -> Result<Upstream, EngineError> {
        let provider = self.provider(&route.id)?;
        let own = provisioned
            .filter(|p| p.route == route.id)
            .and_then(|p| {
                let key = self.secrets.get(p.secret_ref);
                if key.is_none() {
                    tracing::warn!(key = %p.key_id, "the provisioned OpenRouter key is missing from the secret store; using the route's key");
                }
                key
            });
        let key = match own {
            Some(k) => k,
            None => RouteTable::api_key_of(route, &self.secrets)?,
        };
        Ok(Upstream {
            provider,
            key: ApiKey(key),
        })
    }

    /// The route's provider with its key when it has one, else an empty key (for public
    /// endpoints such as `/models`).
    pub(crate) fn public(&self, route: &Route) -> Result<Upstream, EngineError> {
        let provider = self.provider(&route.id)?;
        let key = RouteTable::api_key_of(route, &self.secrets).unwrap_or_default();
        Ok(Upstream {
            provider,
            key: ApiKey(key),
        })
    }
}
