//! [`S3BlobStore`]: blobs as objects in an S3-compatible bucket (AWS S3, MinIO, moto…),
//! keyed `PREFIX/<first two hex>/<sha256>` like the files under the state root, through
//! `object_store`. The client is configured from the standard `AWS_*` variables by
//! `object_store` itself, so the secret key never passes through ferry's code. A put
//! hashes the bytes as they go: a small blob is one PUT after the hash matched, a large one
//! a multipart upload that is aborted (nothing visible) when the hash does not match, so
//! at most one part is held in memory. A get streams the object, verified at the end.

use std::time::Duration;

use futures::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, PutPayloadMut, RetryConfig, WriteMultipart,
};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::blob_store::{blob_key, is_sha256, verified, BlobStore, BlobStream};
use crate::error::BlobError;
use crate::store_location::{AssetStoreConfigError, S3Location};

/// Blobs up to this size are sent in one PUT; larger ones as a multipart upload in parts
/// of this size (S3's minimum part size).
const PART_SIZE: usize = 5 * 1024 * 1024;
/// Parts of one multipart upload in flight at once.
const PARTS_IN_FLIGHT: usize = 2;

/// Blobs in an S3-compatible bucket.
pub struct S3BlobStore {
    client: AmazonS3,
    location: S3Location,
}

/// Shows the location only: the client holds the credentials.
impl std::fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3BlobStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// The `AWS_*` variables, values in zeroizing strings (they include the secret key).
pub type AwsVars = Vec<(String, Zeroizing<String>)>;

/// The `AWS_*` variables of this process.
pub fn aws_vars_from_env() -> AwsVars {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, Zeroizing::new(v.into_string().ok()?))))
        .filter(|(k, _)| k.starts_with("AWS_"))
        .collect()
}

fn var<'a>(vars: &'a AwsVars, name: &str) -> Option<&'a str> {
    vars.iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

/// Whether plain http is acceptable for `endpoint`: always on a loopback host, elsewhere
/// only with `AWS_ALLOW_HTTP=true`.
fn http_allowed(endpoint: &url::Url, vars: &AwsVars) -> bool {
    let loopback = match endpoint.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    loopback || var(vars, "AWS_ALLOW_HTTP").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The text of an error and all its sources.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

impl S3BlobStore {
    /// Configures the client from the `AWS_*` variables `vars` (endpoint, region,
    /// credentials; see [`aws_vars_from_env`]) and checks the bucket can be listed under
    /// the prefix.
    pub async fn connect(
        location: S3Location,
        vars: AwsVars,
    ) -> Result<S3BlobStore, AssetStoreConfigError> {
        let endpoint = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT"]
            .into_iter()
            .find_map(|k| var(&vars, k).map(str::to_owned));
        // Timeouts and retries first: the variables may not override what they set.
        let mut builder = AmazonS3Builder::new()
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
            })
            .with_client_options(ClientOptions::new().with_connect_timeout(Duration::from_secs(5)));
        for (key, value) in &vars {
            if let Ok(config_key) = key.to_ascii_lowercase().parse() {
                builder = builder.with_config(config_key, value.as_str());
            }
        }
        builder = builder.with_bucket_name(&location.bucket);
        if let Some(endpoint) = &endpoint {
            let parsed = url::Url::parse(endpoint).map_err(|_| AssetStoreConfigError::Unreachable {
                location: location.clone(),
                endpoint: endpoint.clone(),
                detail: "AWS_ENDPOINT_URL is not a URL (e.g. https://s3.example.com or http://127.0.0.1:9000)".into(),
            })?;
            if parsed.scheme() == "http" {
                if !http_allowed(&parsed, &vars) {
                    return Err(AssetStoreConfigError::InsecureEndpoint {
                        endpoint: endpoint.clone(),
                    });
                }
                builder = builder.with_allow_http(true);
            }
        }
        let client = builder
            .build()
            .map_err(|source| AssetStoreConfigError::Client {
                location: location.clone(),
                source,
            })?;
        let store = S3BlobStore { client, location };
        store.check_bucket(endpoint).await?;
        Ok(store)
    }

    /// Lists one page under the prefix: proves the bucket exists and the credentials work.
    async fn check_bucket(&self, endpoint: Option<String>) -> Result<(), AssetStoreConfigError> {
        let endpoint = endpoint.unwrap_or_else(|| "AWS S3".to_owned());
        let prefix = (!self.location.prefix.is_empty()).then(|| self.prefix_path());
        let Err(err) = self.client.list_with_delimiter(prefix.as_ref()).await else {
            return Ok(());
        };
        let detail = error_chain(&err);
        let bucket = self.location.bucket.clone();
        Err(match err {
            _ if detail.contains("NoSuchBucket") => {
                AssetStoreConfigError::BucketMissing { bucket, endpoint }
            }
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => {
                AssetStoreConfigError::CredentialsRefused {
                    bucket,
                    endpoint,
                    detail,
                }
            }
            _ if [
                "AccessDenied",
                "InvalidAccessKeyId",
                "SignatureDoesNotMatch",
                "403 Forbidden",
            ]
            .iter()
            .any(|marker| detail.contains(marker)) =>
            {
                AssetStoreConfigError::CredentialsRefused {
                    bucket,
                    endpoint,
                    detail,
                }
            }
            _ => AssetStoreConfigError::Unreachable {
                location: self.location.clone(),
                endpoint,
                detail,
            },
        })
    }

    fn prefix_path(&self) -> ObjectPath {
        ObjectPath::from(self.location.prefix.as_str())
    }

    fn object_path(&self, sha256: &str) -> ObjectPath {
        let key = blob_key(sha256);
        if self.location.prefix.is_empty() {
            ObjectPath::from(key)
        } else {
            ObjectPath::from(format!("{}/{key}", self.location.prefix))
        }
    }

    fn failed(
        &self,
        action: &'static str,
        sha256: &str,
    ) -> impl FnOnce(object_store::Error) -> BlobError {
        let location = self.location(sha256);
        move |source| BlobError::ObjectStore {
            action,
            location,
            source,
        }
    }

    /// Streams the rest of `body` (after `buffered`) into a multipart upload, aborting it
    /// when the bytes do not hash to `sha256`.
    async fn put_multipart(
        &self,
        sha256: &str,
        path: &ObjectPath,
        buffered: PutPayloadMut,
        mut hasher: Sha256,
        mut body: BlobStream,
    ) -> Result<u64, BlobError> {
        let upload = self
            .client
            .put_multipart(path)
            .await
            .map_err(self.failed("start uploading", sha256))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut size = buffered.content_length() as u64;
        for chunk in &buffered.freeze() {
            writer.put(chunk.clone());
        }
        let outcome: Result<(), BlobError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                hasher.update(&chunk);
                size += chunk.len() as u64;
                writer
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(self.failed("upload", sha256))?;
                writer.put(chunk);
            }
            let actual = format!("{:x}", std::mem::take(&mut hasher).finalize());
            if actual != sha256 {
                return Err(BlobError::Corrupted {
                    sha256: sha256.to_owned(),
                    actual,
                });
            }
            Ok(())
        }
        .await;
        match outcome {
            Ok(()) => {
                writer
                    .finish()
                    .await
                    .map_err(self.failed("upload", sha256))?;
                Ok(size)
            }
            Err(e) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(error = %abort, object = %self.location(sha256), "cannot abort a refused multipart upload; the bucket's lifecycle rules remove it");
                }
                Err(e)
            }
        }
    }
}

#[async_trait::async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, sha256: &str, mut body: BlobStream) -> Result<u64, BlobError> {
        let path = self.object_path(sha256);
        let mut hasher = Sha256::new();
        let mut buffered = PutPayloadMut::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            buffered.push(chunk);
            if buffered.content_length() > PART_SIZE {
                return self
                    .put_multipart(sha256, &path, buffered, hasher, body)
                    .await;
            }
        }
        let actual = format!("{:x}", hasher.finalize());
        if actual != sha256 {
            return Err(BlobError::Corrupted {
                sha256: sha256.to_owned(),
                actual,
            });
        }
        let size = buffered.content_length() as u64;
        self.client
            .put(&path, buffered.freeze())
            .await
            .map_err(self.failed("upload", sha256))?;
        Ok(size)
    }

    async fn get(&self, sha256: &str) -> Result<BlobStream, BlobError> {
        let location = self.location(sha256);
        match self.client.get(&self.object_path(sha256)).await {
            Ok(found) => {
                let chunks = found
                    .into_stream()
                    .map(move |r| {
                        r.map_err(|source| BlobError::ObjectStore {
                            action: "read",
                            location: location.clone(),
                            source,
                        })
                    })
                    .boxed();
                Ok(verified(chunks, sha256))
            }
            Err(object_store::Error::NotFound { .. }) => Err(BlobError::Missing {
                sha256: sha256.to_owned(),
                location,
            }),
            Err(source) => Err(BlobError::ObjectStore {
                action: "read",
                location,
                source,
            }),
        }
    }

    async fn exists(&self, sha256: &str) -> Result<bool, BlobError> {
        match self.client.head(&self.object_path(sha256)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.failed("look for", sha256)(e)),
        }
    }

    async fn delete(&self, sha256: &str) -> Result<(), BlobError> {
        match self.client.delete(&self.object_path(sha256)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.failed("delete", sha256)(e)),
        }
    }

    async fn list(&self) -> Result<Vec<String>, BlobError> {
        let prefix = (!self.location.prefix.is_empty()).then(|| self.prefix_path());
        let mut objects = self.client.list(prefix.as_ref());
        let mut out = Vec::new();
        while let Some(meta) = objects.next().await {
            let meta = meta.map_err(|source| BlobError::ObjectStore {
                action: "list",
                location: self.location.to_string(),
                source,
            })?;
            let mut parts = meta.location.parts().collect::<Vec<_>>().into_iter().rev();
            let (Some(name), Some(shard)) = (parts.next(), parts.next()) else {
                continue;
            };
            let (name, shard) = (name.as_ref(), shard.as_ref());
            if is_sha256(name) && name.starts_with(shard) && shard.len() == 2 {
                out.push(name.to_owned());
            }
        }
        out.sort();
        Ok(out)
    }

    fn location(&self, sha256: &str) -> String {
        self.location.url_of(&blob_key(sha256))
    }

    fn describe(&self) -> String {
        self.location.to_string()
    }
}
