//! FROM references: BL001 no tag, BL002 `latest`, BL003 no digest pin.

use super::{Context, Sink};
use crate::dockerfile::image_ref::ImageRef;

pub(super) fn check(context: &Context<'_>, sink: &mut Sink<'_>) {
    if !["BL001", "BL002", "BL003"].iter().any(|id| sink.enabled(id)) {
        return;
    }
    let stage_names: Vec<String> = context.stage_names().map(|(_, name)| name).collect();
    for stage in &context.stages {
        let word = &stage.from.image;
        // With variables, only meta-ARG defaults tell what is pulled; without a default nothing can be said.
        let Some(image) = context.resolve_from_image(&word.raw) else {
            continue;
        };
        if stage_names.iter().any(|name| name.eq_ignore_ascii_case(&image)) {
            continue;
        }
        let Some(reference) = ImageRef::parse(&image) else {
            continue;
        };
        if reference.is_scratch() {
            continue;
        }
        match (&reference.tag, &reference.digest) {
            (None, None) => {
                sink.report(
                    "BL001",
                    word.span,
                    format!("`{image}` has no tag, so it means `{image}:latest`, whatever that is at build time: pin a version, like `{image}:<version>`"),
                );
            }
            (Some(tag), None) if tag == "latest" => {
                sink.report("BL002", word.span, format!("`{image}` uses the `latest` tag, which moves: pin a version"));
            }
            _ => {}
        }
        if reference.digest.is_none() {
            sink.report(
                "BL003",
                word.span,
                format!("`{image}` is not pinned to a digest: the same tag can point at another image tomorrow; append `@sha256:<digest>`"),
            );
        }
    }
}
