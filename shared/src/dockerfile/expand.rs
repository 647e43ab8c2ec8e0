//! Which words Docker expands in which instruction, applied to an [`Instruction`].
//!
//! Docker substitutes variables in ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR
//! and ARG (name and default). RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK and ONBUILD are left alone: their
//! shell expands them at run time, or, for ONBUILD, the build that inherits the trigger does.

use super::ast::{ArgDeclaration, Command, Copy, Flag, Instruction, KeyValue, KeyValues, Word};
use super::error::ExpandError;
use super::substitution::{quote_literal, substitute_with_escape};

impl Instruction {
    /// The instruction with its variables replaced, using `lookup` for values (`None` = unset) and `escape` as
    /// the Dockerfile's escape character ([`super::Dockerfile::escape`]).
    ///
    /// Expanded words are re-quoted ([`quote_literal`]) so the result is still valid Dockerfile syntax: its
    /// words expand to themselves and it prints as a Dockerfile. Spans stay those of the original words.
    pub fn expand<F>(&self, lookup: F, escape: char) -> Result<Instruction, ExpandError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let expander = Expander {
            lookup: &lookup,
            escape,
        };
        let mut expanded = self.clone();
        match &mut expanded.command {
            Command::From(from) => {
                from.image = expander.word(&from.image)?;
                expander.flags(&mut expanded.flags, &["platform"])?;
                from.platform = flag_value(&expanded.flags, "platform");
            }
            Command::Add(copy) | Command::Copy(copy) => {
                for source in &mut copy.sources {
                    *source = expander.word(source)?;
                }
                copy.destination = expander.word(&copy.destination)?;
                expander.flags(
                    &mut expanded.flags,
                    &["from", "chown", "chmod", "checksum", "exclude"],
                )?;
                refresh_copy_flags(copy, &expanded.flags);
            }
            Command::Env(pairs) | Command::Label(pairs) => expander.key_values(pairs)?,
            Command::Expose(ports) => {
                let mut split = Vec::with_capacity(ports.len());
                for port in ports.iter() {
                    let value = expander.value(port)?;
                    // A variable may hold several ports ("80 443"): Docker splits the expansion into words.
                    split.extend(
                        value
                            .split_whitespace()
                            .map(|part| Word::new(quote_literal(part), port.span)),
                    );
                }
                *ports = split;
            }
            Command::StopSignal(word) | Command::User(word) | Command::Workdir(word) => {
                *word = expander.word(word)?
            }
            Command::Volume(volume) => {
                for path in &mut volume.paths {
                    *path = expander.word(path)?;
                }
            }
            Command::Arg(declarations) => {
                for ArgDeclaration { name, default } in declarations.iter_mut() {
                    *name = expander.word(name)?;
                    if let Some(default) = default {
                        *default = expander.word(default)?;
                    }
                }
            }
            Command::Run(_)
            | Command::Cmd(_)
            | Command::Entrypoint(_)
            | Command::Shell(_)
            | Command::Healthcheck(_)
            | Command::Onbuild(_)
            | Command::Maintainer(_) => {}
        }
        Ok(expanded)
    }
}

struct Expander<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    escape: char,
}

impl Expander<'_> {
    fn value(&self, word: &Word) -> Result<String, ExpandError> {
        substitute_with_escape(&word.raw, self.escape, self.lookup).map_err(|source| ExpandError {
            span: word.span,
            source,
        })
    }

    fn word(&self, word: &Word) -> Result<Word, ExpandError> {
        Ok(Word::new(quote_literal(&self.value(word)?), word.span))
    }

    fn key_values(&self, pairs: &mut KeyValues) -> Result<(), ExpandError> {
        for KeyValue { key, value } in &mut pairs.pairs {
            *key = self.word(key)?;
            *value = self.word(value)?;
        }
        Ok(())
    }

    /// Flag values are stored unquoted already; they are expanded in place.
    fn flags(&self, flags: &mut [Flag], names: &[&str]) -> Result<(), ExpandError> {
        for flag in flags
            .iter_mut()
            .filter(|flag| names.contains(&flag.name.as_str()))
        {
            if let Some(value) = &flag.value {
                let expanded =
                    substitute_with_escape(value, self.escape, self.lookup).map_err(|source| {
                        ExpandError {
                            span: flag.span,
                            source,
                        }
                    })?;
                flag.value = Some(expanded);
            }
        }
        Ok(())
    }
}

fn flag_value(flags: &[Flag], name: &str) -> Option<String> {
    flags
        .iter()
        .find(|flag| flag.name == name)
        .and_then(|flag| flag.value.clone())
}

fn refresh_copy_flags(copy: &mut Copy, flags: &[Flag]) {
    copy.from = flag_value(flags, "from");
    copy.chown = flag_value(flags, "chown");
    copy.chmod = flag_value(flags, "chmod");
    copy.checksum = flag_value(flags, "checksum");
    copy.exclude = flags
        .iter()
        .filter(|flag| flag.name == "exclude")
        .filter_map(|flag| flag.value.clone())
        .collect();
}
