//! `s3crypt cpu`.

use std::process::ExitCode;

use s3crypt::primitives::BackendReport;

pub(crate) fn run(json: bool) -> anyhow::Result<ExitCode> {
    let report = BackendReport::current();
    if json {
        let features: serde_json::Map<String, serde_json::Value> = report
            .features
            .list()
            .into_iter()
            .map(|(n, on)| (n.to_owned(), on.into()))
            .collect();
        let primitives: serde_json::Map<String, serde_json::Value> = report
            .primitives
            .iter()
            .map(|(n, imp)| ((*n).to_owned(), imp.clone().into()))
            .collect();
        let doc = serde_json::json!({
            "arch": std::env::consts::ARCH,
            "features": features,
            "backend": report.backend.name(),
            "primitives": primitives,
        });
        outln!("{doc}")?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!("architecture: {}", std::env::consts::ARCH)?;
    outln!("CPU features:")?;
    let list = report.features.list();
    if list.is_empty() {
        outln!("  (no feature detection for this architecture)")?;
    }
    for (name, on) in list {
        outln!("  {name:<12} {}", if on { "yes" } else { "no" })?;
    }
    outln!("hot-path backend: {}", report.backend)?;
    outln!("primitives:")?;
    for (name, imp) in &report.primitives {
        outln!("  {name:<26} {imp}")?;
    }
    Ok(ExitCode::SUCCESS)
}
