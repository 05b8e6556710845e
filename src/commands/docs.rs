//! `strata docs generate` writes the static docs site (and dbt's `catalog.json` when the
//! warehouse exists) into `<artifacts>/docs/`; `strata docs serve` serves that folder on
//! 127.0.0.1. The site also opens from disk without a server.

use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use anyhow::Result;

use super::{ExitStatus, Output, compile_project};
use crate::cli::{CompileArgs, DocsCommand, GlobalArgs};
use crate::compile::Compiled;
use crate::docs::catalog::{self, Catalog};

/// Runs `strata docs generate` or `strata docs serve`.
pub fn dispatch(global: &GlobalArgs, command: &DocsCommand) -> Result<ExitStatus> {
    match command {
        DocsCommand::Generate {
            compile,
            empty_catalog,
        } => generate(global, compile, *empty_catalog),
        DocsCommand::Serve { port } => serve(global, *port),
    }
}

/// Runs `strata docs generate`.
pub fn generate(
    global: &GlobalArgs,
    args: &CompileArgs,
    empty_catalog: bool,
) -> Result<ExitStatus> {
    let out = Output::new(global);
    let t0 = Instant::now();
    let Some(c) = compile_project(global, args, false, &out)? else {
        return Ok(ExitStatus::Error);
    };
    crate::artifacts::write_manifest(&c, true)?;
    let dir = crate::artifacts::artifacts_dir(&c);
    let state = crate::docs::state::read(&dir);
    for p in &state.problems {
        out.note(&format!(
            "{p}: the site shows no results from it (run `strata build` again to rewrite it)"
        ));
    }
    let generated_at = crate::freshness::time::now_rfc3339();
    let catalog = if empty_catalog {
        None
    } else {
        read_catalog(&c, &out)
    };
    if let Some(cat) = &catalog {
        let path = dir.join("catalog.json");
        crate::artifacts::replace_atomically(
            &path,
            catalog::to_json(&c, cat, &generated_at).as_bytes(),
        )?;
    }
    let site = crate::docs::generate(
        &c,
        &state,
        catalog.as_ref(),
        &generated_at,
        &dir.join("docs"),
    )?;
    let shown = crate::artifacts::shown(&c.project.root, &site.dir);
    out.always(
        &format!(
            "wrote the docs site in {:.2}s: {} files in {shown}/ (largest data file {} KiB){}\n\
             open {shown}/index.html in a browser, or run `strata docs serve`",
            t0.elapsed().as_secs_f64(),
            site.files,
            site.largest.div_ceil(1024),
            if catalog.is_some() {
                ", and catalog.json"
            } else {
                ""
            },
        ),
        serde_json::json!({"event": "docs_generated", "dir": shown, "files": site.files,
            "largest_bytes": site.largest, "catalog": catalog.is_some()}),
    );
    Ok(ExitStatus::Success)
}

/// The warehouse's catalog, or None (with a note saying why) when it cannot be read.
fn read_catalog(c: &Compiled, out: &Output) -> Option<Catalog> {
    let read = || -> Result<Vec<crate::adapter::CatalogColumn>, crate::adapter::AdapterError> {
        let adapter = crate::adapter::open(&c.target, &c.project.root, true, super::notices(out))?;
        let mut conn = adapter.connect()?;
        conn.catalog_columns()
    };
    match read() {
        Ok(rows) => {
            let cat = catalog::collect(c, rows);
            if cat.tables.is_empty() {
                out.note(&format!(
                    "no catalog.json: the warehouse of target `{}` holds none of the project's \
                     relations yet; the site shows declared column types only. Build first \
                     (`strata build`), then generate the docs again",
                    c.target.info.name
                ));
                return None;
            }
            Some(cat)
        }
        Err(e) => {
            out.note(&format!(
                "no catalog.json: the warehouse of target `{}` could not be read ({e}); the site \
                 shows declared column types only. Build first (`strata build`), or check the \
                 target with `strata debug`",
                c.target.info.name
            ));
            None
        }
    }
}

/// Runs `strata docs serve`: the site's files over HTTP on 127.0.0.1 until stopped.
pub fn serve(global: &GlobalArgs, port: u16) -> Result<ExitStatus> {
    let out = Output::new(global);
    let Some(project) = super::load_project(global, &out) else {
        return Ok(ExitStatus::Error);
    };
    let dir = project.root.join(&project.paths.artifacts).join("docs");
    if !dir.join("index.html").is_file() {
        out.always(
            &format!(
                "error: no docs site in {}: run `strata docs generate` first",
                dir.display()
            ),
            serde_json::json!({"event": "error", "message": "no docs site", "dir": dir}),
        );
        return Ok(ExitStatus::Error);
    }
    let listen = format!("127.0.0.1:{port}");
    let Some((server, addr)) = super::bind_http(&listen, " (choose another with --port)", &out)
    else {
        return Ok(ExitStatus::Error);
    };
    out.always(
        &format!("serving the docs site on http://{addr}/ (Ctrl-C to stop)"),
        serde_json::json!({"event": "serving", "address": addr}),
    );
    for request in server.incoming_requests() {
        let response = match file_for(&dir, request.url()) {
            Some(path) => match std::fs::read(&path) {
                Ok(bytes) => tiny_http::Response::from_data(bytes)
                    .with_header(header("Content-Type", content_type(&path)))
                    .with_header(header("X-Content-Type-Options", "nosniff")),
                Err(_) => not_found(),
            },
            None => not_found(),
        };
        let _ = request.respond(response);
    }
    Ok(ExitStatus::Success)
}

fn not_found() -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    tiny_http::Response::from_data(b"not found\n".to_vec()).with_status_code(404)
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name, value).expect("a valid header")
}

/// The file a request path names inside `dir`: `/` is `index.html`; nothing outside `dir`.
fn file_for(dir: &Path, url: &str) -> Option<PathBuf> {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "index.html" } else { rel };
    let rel = Path::new(rel);
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    let full = dir.join(rel);
    full.is_file().then_some(full)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::file_for;

    #[test]
    fn only_files_inside_the_site_are_served() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "x").unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/meta.js"), "x").unwrap();
        assert!(file_for(dir.path(), "/").is_some());
        assert!(file_for(dir.path(), "/data/meta.js?x=1").is_some());
        assert!(file_for(dir.path(), "/../secret").is_none());
        assert!(file_for(dir.path(), "/data/../../etc/passwd").is_none());
        assert!(file_for(dir.path(), "//etc/passwd").is_none());
        assert!(file_for(dir.path(), "/missing.js").is_none());
    }
}
