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
        println!("{doc}");
        return Ok(ExitCode::SUCCESS);
    }
    println!("architecture: {}", std::env::consts::ARCH);
    println!("CPU features:");
    let list = report.features.list();
    if list.is_empty() {
        println!("  (no feature detection for this architecture)");
    }
    for (name, on) in list {
        println!("  {name:<12} {}", if on { "yes" } else { "no" });
    }
    println!("hot-path backend: {}", report.backend);
    println!("primitives:");
    for (name, imp) in &report.primitives {
        println!("  {name:<26} {imp}");
    }
    Ok(ExitCode::SUCCESS)
}
