//! Stage structure: BL004 repeated CMD/ENTRYPOINT/HEALTHCHECK, BL007 final user root, BL019 COPY --from an
//! unknown stage, BL020 FROM a later stage or itself, BL021 duplicate stage names.

use super::{Context, Fix, Sink};
use crate::dockerfile::ast::{Command, Instruction};
use crate::dockerfile::image_ref::ImageRef;
use crate::dockerfile::span::Span;
use crate::dockerfile::substitution::unquote;

pub(super) fn check(context: &Context<'_>, sink: &mut Sink<'_>) {
    repeated_final_settings(context, sink);
    final_user(context, sink);
    stage_references(context, sink);
}

fn repeated_final_settings(context: &Context<'_>, sink: &mut Sink<'_>) {
    if !sink.enabled("BL004") {
        return;
    }
    for stage in &context.stages {
        for keyword in ["CMD", "ENTRYPOINT", "HEALTHCHECK"] {
            let matching: Vec<&Instruction> =
                stage.instructions.iter().filter(|instruction| instruction.keyword() == keyword).collect();
            let Some((effective, overridden)) = matching.split_last() else {
                continue;
            };
            for instruction in overridden {
                let fix = Fix::single(format!("Remove the overridden {keyword}"), instruction.span, "");
                sink.report_with_fix(
                    "BL004",
                    instruction.span,
                    format!(
                        "this {keyword} has no effect: the {keyword} on line {} replaces it (only the last one in a stage counts)",
                        effective.span.start.line
                    ),
                    Some(fix),
                );
            }
        }
    }
}

fn is_root(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or(user);
    name == "root" || name == "0"
}

fn final_user(context: &Context<'_>, sink: &mut Sink<'_>) {
    if !sink.enabled("BL007") {
        return;
    }
    let Some(stage) = context.stages.last() else {
        return;
    };
    let last_user = stage.instructions.iter().rev().find_map(|instruction| match &instruction.command {
        Command::User(user) => Some(user),
        _ => None,
    });
    match last_user {
        None => {
            sink.report(
                "BL007",
                stage.from_instruction.keyword_span,
                "the final stage sets no USER, so the container runs as root (unless the base image chose a user): add `USER <non-root user>`",
            );
        }
        Some(user) if is_root(&unquote(&user.raw, context.escape)) => {
            sink.report("BL007", user.span, "the final stage runs as root: switch to a non-root USER at the end");
        }
        Some(_) => {}
    }
}

/// Classic edit distance, for "did you mean" suggestions.
pub(crate) fn edit_distance(left: &str, right: &str) -> usize {
    let right: Vec<char> = right.chars().collect();
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    for (row, left_character) in left.chars().enumerate() {
        let mut current = vec![row + 1];
        for (column, right_character) in right.iter().enumerate() {
            let substitution = previous[column] + usize::from(left_character != *right_character);
            current.push(substitution.min(previous[column + 1] + 1).min(current[column] + 1));
        }
        previous = current;
    }
    previous[right.len()]
}

/// The candidate closest to `name`, if close enough to be a typo.
pub(crate) fn suggestion<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|candidate| (edit_distance(name, candidate), candidate))
        .filter(|(distance, candidate)| *distance > 0 && *distance <= 2 && *distance < candidate.len())
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn stage_references(context: &Context<'_>, sink: &mut Sink<'_>) {
    let names: Vec<(usize, String, Span)> = context
        .stages
        .iter()
        .filter_map(|stage| {
            let alias = stage.from.alias.as_ref()?;
            Some((stage.index, alias.raw.to_ascii_lowercase(), alias.span))
        })
        .collect();
    let line_of = |index: usize| context.stages.get(index).map_or(0, |stage| stage.from_instruction.span.start.line);

    for stage in &context.stages {
        // BL021: a name used twice.
        if let Some((_, name, span)) = names.iter().find(|(index, _, _)| *index == stage.index) {
            if let Some((first, _, _)) = names.iter().find(|(index, other, _)| other == name && *index < stage.index) {
                sink.report(
                    "BL021",
                    *span,
                    format!(
                        "stage name `{name}` is already used on line {}: Docker rejects duplicate stage names",
                        line_of(*first)
                    ),
                );
            }
        }

        // BL020: FROM a stage that is not defined yet.
        let image = unquote(&stage.from.image.raw, context.escape).to_ascii_lowercase();
        if !image.contains('$') {
            if let Some((index, name, _)) =
                names.iter().find(|(index, name, _)| *name == image && *index >= stage.index)
            {
                let message = if *index == stage.index {
                    format!("stage `{name}` is built FROM itself")
                } else {
                    format!(
                        "stage `{name}` is defined later (line {}): a FROM can only use earlier stages, so Docker would pull an image named `{name}`",
                        line_of(*index)
                    )
                };
                sink.report("BL020", stage.from.image.span, message);
            }
        }

        // BL019: COPY --from that names nothing known.
        if !sink.enabled("BL019") {
            continue;
        }
        for instruction in stage.instructions {
            let Command::Copy(copy) = &instruction.command else {
                continue;
            };
            let (Some(from), Some(flag)) = (&copy.from, instruction.flag("from")) else {
                continue;
            };
            if from.contains('$') {
                continue;
            }
            let lower = from.to_ascii_lowercase();
            if let Ok(index) = lower.parse::<usize>() {
                if index >= stage.index {
                    sink.report(
                        "BL019",
                        flag.span,
                        format!(
                            "COPY --from={from}: stage {index} is not an earlier stage (this is stage {})",
                            stage.index
                        ),
                    );
                }
                continue;
            }
            let defined = names.iter().find(|(_, name, _)| *name == lower);
            match defined {
                Some((index, _, _)) if *index < stage.index => {}
                Some((index, name, _)) => {
                    sink.report(
                        "BL019",
                        flag.span,
                        format!(
                            "COPY --from={from}: stage `{name}` is defined on line {}, after this one",
                            line_of(*index)
                        ),
                    );
                }
                None => {
                    // Registry, tag or digest syntax says "image"; a bare word is more likely a mistyped stage.
                    let looks_like_image = from.contains(['/', ':', '@', '.']) && ImageRef::parse(from).is_some();
                    if looks_like_image {
                        continue;
                    }
                    let earlier =
                        names.iter().filter(|(index, _, _)| *index < stage.index).map(|(_, name, _)| name.as_str());
                    let guess = suggestion(&lower, earlier);
                    let mut message = format!(
                        "COPY --from={from}: no earlier stage has that name, so Docker will try to pull an image called `{from}`"
                    );
                    let fix = guess.map(|guess| {
                        message.push_str(&format!(" (did you mean `{guess}`?)"));
                        Fix::single(format!("Use stage `{guess}`"), flag.span, format!("--from={guess}"))
                    });
                    sink.report_with_fix("BL019", flag.span, message, fix);
                }
            }
        }
    }
}
