//! Where the daemon keeps asset bytes (`serve --asset-store`, env `FERRY_ASSET_STORE`):
//! files under the state root (the default) or an S3-compatible bucket
//! (`s3://BUCKET/PREFIX`), and the startup errors of opening that store. Messages say
//! what was wrong and how to fix it, and never contain a credential.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use crate::blob::FileBlobStore;
use crate::blob_store::BlobStore;
use crate::error::BlobError;
use crate::s3_blobs::S3BlobStore;
use crate::ASSETS_DIR;

/// The asset store the operator chose.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AssetStoreLocation {
    /// Files under `STATE_ROOT/assets` (the default).
    #[default]
    StateRoot,
    /// An S3-compatible bucket.
    S3(S3Location),
}

/// `s3://BUCKET/PREFIX`: the bucket and the key prefix (no leading or trailing `/`,
/// possibly empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket name.
    pub bucket: String,
    /// The key prefix the blobs go under.
    pub prefix: String,
}

impl S3Location {
    /// The `s3://` URL of `key` under the prefix.
    pub fn url_of(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}/{key}", self.bucket)
        } else {
            format!("s3://{}/{}/{key}", self.bucket, self.prefix)
        }
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// Why the asset store could not be opened at startup.
#[derive(Debug, thiserror::Error)]
pub enum AssetStoreConfigError {
    /// The `--asset-store` value is not a supported URL.
    #[error(
        "--asset-store {value:?} is not usable: {reason}; give s3://BUCKET/PREFIX (env FERRY_ASSET_STORE), or leave it unset to keep assets under the state root"
    )]
    BadUrl {
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A plain-http endpoint that is not on this machine, without `AWS_ALLOW_HTTP=true`.
    #[error(
        "the S3 endpoint {endpoint} uses plain http on a non-loopback host; use https, or set AWS_ALLOW_HTTP=true if the network path is trusted"
    )]
    InsecureEndpoint {
        /// The endpoint URL.
        endpoint: String,
    },
    /// The object-store client could not be configured from the `AWS_*` variables.
    #[error(
        "cannot configure the S3 client for {location}: {source}; check AWS_ENDPOINT_URL, AWS_REGION and the other AWS_* variables"
    )]
    Client {
        /// The store URL.
        location: S3Location,
        /// The client's error.
        #[source]
        source: object_store::Error,
    },
    /// The bucket does not exist.
    #[error(
        "the asset store bucket {bucket:?} does not exist at {endpoint}; create it (e.g. `aws s3 mb s3://{bucket}`) or fix --asset-store / FERRY_ASSET_STORE and AWS_ENDPOINT_URL"
    )]
    BucketMissing {
        /// The bucket name.
        bucket: String,
        /// The endpoint asked (`AWS_ENDPOINT_URL`, or AWS's default).
        endpoint: String,
    },
    /// The credentials were refused.
    #[error(
        "the S3 endpoint {endpoint} refused access to bucket {bucket:?} ({detail}); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and that they may list, read, write and delete under the prefix"
    )]
    CredentialsRefused {
        /// The bucket name.
        bucket: String,
        /// The endpoint asked.
        endpoint: String,
        /// The error the endpoint answered (it never contains the secret key).
        detail: String,
    },
    /// The bucket could not be checked (endpoint unreachable, bad answer).
    #[error(
        "cannot reach the asset store {location} at {endpoint}: {detail}; check AWS_ENDPOINT_URL / AWS_REGION and that the endpoint is up"
    )]
    Unreachable {
        /// The store URL.
        location: S3Location,
        /// The endpoint asked.
        endpoint: String,
        /// What failed.
        detail: String,
    },
    /// The local assets directory could not be opened.
    #[error("cannot open the asset store: {0}")]
    Files(#[from] BlobError),
}

impl FromStr for AssetStoreLocation {
    type Err = AssetStoreConfigError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let bad = |reason| AssetStoreConfigError::BadUrl {
            value: value.to_owned(),
            reason,
        };
        let url = url::Url::parse(value).map_err(|_| bad("it is not a URL"))?;
        if url.scheme() != "s3" {
            return Err(bad("only s3:// asset stores are supported"));
        }
        let bucket = url
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| bad("it names no bucket"))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("it has a query or fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            // Never echo the credentials back.
            let mut redacted = url.clone();
            let _ = redacted.set_username("");
            let _ = redacted.set_password(None);
            return Err(AssetStoreConfigError::BadUrl {
                value: redacted.to_string(),
                reason: "it carries credentials; give them in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY instead",
            });
        }
        let prefix = url.path().trim_matches('/');
        if prefix
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
            && !prefix.is_empty()
        {
            return Err(bad("its prefix has an empty, `.` or `..` segment"));
        }
        Ok(AssetStoreLocation::S3(S3Location {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        }))
    }
}

impl AssetStoreLocation {
    /// Opens the store: the state root's `assets/` directory, or the bucket (configured
    /// from the `AWS_*` variables and checked, so a missing bucket or refused credentials
    /// fail here rather than on the first upload).
    pub async fn open(
        &self,
        state_root: &Path,
    ) -> Result<Arc<dyn BlobStore>, AssetStoreConfigError> {
        match self {
            AssetStoreLocation::StateRoot => {
                Ok(Arc::new(FileBlobStore::open(state_root.join(ASSETS_DIR))?))
            }
            AssetStoreLocation::S3(location) => {
                let vars = crate::s3_blobs::aws_vars_from_env();
                Ok(Arc::new(
                    S3BlobStore::connect(location.clone(), vars).await?,
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_parse_and_bad_ones_say_why() {
        assert_eq!(
            "s3://bucket/some/prefix/"
                .parse::<AssetStoreLocation>()
                .unwrap(),
            AssetStoreLocation::S3(S3Location {
                bucket: "bucket".into(),
                prefix: "some/prefix".into()
            })
        );
        let AssetStoreLocation::S3(bare) = "s3://b".parse().unwrap() else {
            panic!("not s3")
        };
        assert_eq!(bare.prefix, "");
        assert_eq!(bare.url_of("ab/abc"), "s3://b/ab/abc");
        for (value, says) in [
            ("/var/assets", "not a URL"),
            ("http://bucket/x", "only s3://"),
            ("s3:///x", "no bucket"),
            ("s3://b/a//c", "empty"),
            ("s3://key:secret@b/x", "credentials"),
        ] {
            let err = value.parse::<AssetStoreLocation>().unwrap_err().to_string();
            assert!(err.contains(says), "{value}: {err}");
            assert!(!err.contains("secret"), "{err}");
        }
    }
}
