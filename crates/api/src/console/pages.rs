//! The console's HTML pages: one layout (navigation, the session's CSRF token in a
//! `<meta>`, the page's own ES module) around a static body per page. The pages carry no
//! data: each page's module fetches it from the public `/v1` API, so everything the console
//! shows is also scriptable.

use super::files;

/// One page of the console.
pub struct Page {
    /// Its path under `/ui/` (`""` is the overview).
    pub slug: &'static str,
    pub title: &'static str,
    /// Its module among [`files::FILES`].
    pub script: &'static str,
    body: &'static str,
    /// Listed in the navigation.
    nav: bool,
}

macro_rules! page {
    ($slug:literal, $title:literal, $file:literal, $nav:expr) => {
        Page {
            slug: $slug,
            title: $title,
            script: concat!($file, ".js"),
            body: include_str!(concat!("web/", $file, ".html")),
            nav: $nav,
        }
    };
}

/// Every page, in navigation order.
pub const PAGES: &[Page] = &[
    page!("", "Overview", "overview", true),
    page!("sessions", "Sessions", "sessions", true),
    page!("runs", "Runs", "runs", true),
    page!("assets", "Assets", "assets", true),
    page!("spend", "Spend", "spend", true),
    page!("keys", "Keys", "keys", true),
    page!("models", "Models", "models", true),
    page!("sign-in", "Sign in", "sign-in", false),
];

const LAYOUT: &str = include_str!("web/layout.html");

/// The page at `slug`.
pub fn find(slug: &str) -> Option<&'static Page> {
    PAGES.iter().find(|p| p.slug == slug)
}

/// Escapes text for HTML element content and attribute values.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// What the layout shows about the visitor.
pub struct Visitor<'a> {
    /// The session's CSRF token (empty without a session).
    pub csrf: &'a str,
    /// Who is signed in (`operator`, or a key's name and id); `None` on an open daemon
    /// without a session, which hides "Sign out".
    pub signed_in: Option<String>,
}

impl Page {
    /// The page's HTML.
    pub fn render(&self, visitor: &Visitor<'_>) -> String {
        let nav: String = PAGES
            .iter()
            .filter(|p| p.nav)
            .map(|p| {
                let current = if p.slug == self.slug {
                    " aria-current=\"page\""
                } else {
                    ""
                };
                format!("<a href=\"/ui/{}\"{current}>{}</a>", p.slug, p.title)
            })
            .collect();
        let who = match &visitor.signed_in {
            Some(who) => format!(
                "<span class=\"who\">{}</span><button type=\"button\" id=\"sign-out\" class=\"link\">Sign out</button>",
                escape(who)
            ),
            None => String::new(),
        };
        let nav = if self.nav { nav } else { String::new() };
        LAYOUT
            .replace("{{static}}", &format!("/ui/static/{}", files::version()))
            .replace("{{title}}", self.title)
            .replace("{{script}}", self.script)
            .replace("{{csrf}}", &escape(visitor.csrf))
            .replace("{{nav}}", &nav)
            .replace("{{who}}", &who)
            .replace("{{body}}", self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_render_with_their_module_and_no_inline_script() {
        for p in PAGES {
            assert!(files::find(p.script).is_some(), "{}", p.script);
            let html = p.render(&Visitor {
                csrf: "t<k",
                signed_in: Some("key \"x\"".into()),
            });
            assert!(!html.contains("{{"), "{}: unreplaced placeholder", p.slug);
            assert!(html.contains("content=\"t&lt;k\""));
            assert!(!html.contains("key \"x\""));
            // CSP `script-src 'self'`: every script is a module file, none inline.
            for tag in html.split("<script").skip(1) {
                assert!(tag
                    .trim_start()
                    .starts_with("type=\"module\" src=\"/ui/static/"));
            }
            let handler = html.split(" on").skip(1).any(|rest| {
                let name: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
                !name.is_empty() && rest[name.len()..].starts_with('=')
            });
            assert!(!handler, "{}: inline event handler", p.slug);
            assert!(!html.contains("style=\""), "{}: inline style", p.slug);
        }
    }
}
