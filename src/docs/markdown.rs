//! Descriptions are Markdown written by users: rendered to HTML at generate time with every
//! raw HTML block or tag shown as text and every link or image address outside a short list of
//! schemes dropped, so that nothing a description holds can run in the site.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};

/// Schemes a link may use; relative links and `#anchors` are kept too.
const SAFE_SCHEMES: &[&str] = &["http:", "https:", "mailto:"];

/// `text` as safe HTML.
pub fn render(text: &str) -> String {
    // Links and images whose address is unsafe lose their tag (their text stays); a stack
    // remembers, for each link or image opened, whether its closing tag is dropped too.
    let mut dropped: Vec<bool> = Vec::new();
    let parser = Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH)
        .filter_map(|event| match event {
            // Raw HTML is shown, not interpreted.
            Event::Html(s) | Event::InlineHtml(s) => Some(Event::Text(s)),
            Event::Start(Tag::Link { ref dest_url, .. })
            | Event::Start(Tag::Image { ref dest_url, .. }) => {
                let safe = is_safe_url(dest_url);
                dropped.push(!safe);
                safe.then_some(event)
            }
            Event::End(TagEnd::Link) | Event::End(TagEnd::Image) => {
                if dropped.pop().unwrap_or(false) {
                    None
                } else {
                    Some(event)
                }
            }
            other => Some(other),
        });
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    html::push_html(&mut out, parser);
    out
}

/// Whether a link to `url` is safe to show: `http:`, `https:`, `mailto:` or no scheme.
pub fn is_safe_url(url: &str) -> bool {
    // Browsers ignore ASCII whitespace and control characters inside a scheme
    // (`java\tscript:`), so they are removed before looking at it.
    let squeezed: String = url
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && !c.is_ascii_control())
        .collect::<String>()
        .to_ascii_lowercase();
    let scheme_end = squeezed.find(':');
    let path_start = squeezed.find(['/', '?', '#']).unwrap_or(squeezed.len());
    match scheme_end {
        Some(at) if at < path_start => SAFE_SCHEMES.iter().any(|s| squeezed.starts_with(s)),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_is_rendered() {
        let html = render("**Bold** and `code`\n\n- one\n- two");
        assert!(html.contains("<strong>Bold</strong>"), "{html}");
        assert!(html.contains("<code>code</code>"), "{html}");
        assert!(html.contains("<li>one</li>"), "{html}");
    }

    #[test]
    fn raw_html_is_text() {
        let html = render("<script>alert(1)</script>\n\nhi <img src=x onerror=alert(2)>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn unsafe_links_lose_their_address() {
        for link in [
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "[x](java\tscript:alert(1))",
            "[x](data:text/html,<script>alert(1)</script>)",
            "![x](javascript:alert(1))",
            "<javascript:alert(1)>",
        ] {
            let html = render(link).to_lowercase().replace(' ', "");
            for attr in [
                "href=\"javascript",
                "src=\"javascript",
                "href=\"data",
                "src=\"data",
            ] {
                assert!(!html.contains(attr), "{link}: {html}");
            }
        }
        let html = render("![pic](javascript:alert(1)) [x](javascript:alert(1))");
        assert!(!html.contains("<img") && !html.contains("<a"), "{html}");
        assert!(html.contains("pic") && html.contains('x'), "{html}");
        let html = render("[docs](https://example.com/a?b=1) [rel](../x.html) [top](#a)");
        assert!(
            html.contains("href=\"https://example.com/a?b=1\""),
            "{html}"
        );
        assert!(html.contains("href=\"../x.html\""), "{html}");
        assert!(html.contains("href=\"#a\""), "{html}");
    }
}
