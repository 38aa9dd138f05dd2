//! The console's static files, embedded in the binary (`include_str!`): stylesheet, the
//! shared `api.js` module and one ES module per page, each served under
//! `/ui/static/<version>/<name>` where `<version>` is a hash of every file, so a browser
//! may cache them for a year and a new build is fetched afresh. No CDN, no build step.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// One embedded file.
pub struct File {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

macro_rules! web {
    ($name:literal, $type:expr) => {
        File {
            name: $name,
            content_type: $type,
            body: include_str!(concat!("web/", $name)),
        }
    };
}

/// Every static file of the console.
pub const FILES: &[File] = &[
    web!("console.css", "text/css; charset=utf-8"),
    web!("favicon.svg", "image/svg+xml"),
    web!("api.js", JS),
    web!("media.js", JS),
    web!("chart.js", JS),
    web!("sign-in.js", JS),
    web!("overview.js", JS),
    web!("sessions.js", JS),
    web!("runs.js", JS),
    web!("assets.js", JS),
    web!("spend.js", JS),
    web!("keys.js", JS),
    web!("models.js", JS),
];

/// The file called `name`.
pub fn find(name: &str) -> Option<&'static File> {
    FILES.iter().find(|f| f.name == name)
}

/// The hash of every embedded file (16 hex digits): the path segment that versions them.
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut h = Sha256::new();
        for f in FILES {
            h.update(f.name.as_bytes());
            h.update([0]);
            h.update(f.body.as_bytes());
        }
        h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_import_is_an_embedded_file() {
        for f in FILES.iter().filter(|f| f.name.ends_with(".js")) {
            for line in f.body.lines().filter(|l| l.starts_with("import ")) {
                let target = line
                    .split(['\'', '"'])
                    .nth(1)
                    .unwrap_or_else(|| panic!("{}: {line}", f.name));
                let name = target.strip_prefix("./").unwrap_or(target);
                assert!(find(name).is_some(), "{} imports {target}", f.name);
            }
        }
        assert_eq!(version().len(), 16);
    }
}
