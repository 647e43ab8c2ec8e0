//! `extends`: a service that starts from another service's definition, in the same file or in another one
//! (read through the caller's [`super::FileSource`]), and overrides it with compose's merge rules. Chains are
//! followed to the end; a chain that comes back to a service it has visited is an error naming the chain.

use super::decode::Location;
use super::error::{ComposeError, Diagnostic, Severity};
use super::load::Loader;
use super::merge::merge_service;
use super::model::Service;

impl Loader<'_> {
    /// Service `name` of `file` with its extends chain applied; `chain` holds the services being resolved.
    pub(crate) fn resolve_service(&mut self, file: &str, name: &str, chain: &mut Vec<String>) -> Option<Service> {
        let decoded = self.decoded.get(file)?.as_ref()?.services.get(name)?;
        let service = decoded.service.clone();
        let Some(extends) = decoded.extends.clone() else { return Some(service) };
        let base_file = extends.file.clone().unwrap_or_else(|| file.to_string());
        let link = format!("{} ({base_file})", extends.service);
        if chain.contains(&link) {
            let mut cycle = chain.clone();
            cycle.push(link);
            self.report(&extends.location, &extends.path, ComposeError::ExtendsCycle(cycle));
            return Some(service);
        }
        if !self.decoded.contains_key(&base_file) {
            match self.files.read(&base_file) {
                Some(contents) => self.decode_file(&base_file, &contents, false),
                None => {
                    self.report(&extends.location, &extends.path, ComposeError::MissingExtendsFile(base_file));
                    return Some(service);
                }
            }
        }
        let base_exists = matches!(
            self.decoded.get(&base_file),
            Some(Some(decoded_file)) if decoded_file.services.contains_key(&extends.service)
        );
        if !base_exists {
            let error = ComposeError::ExtendsMissingService { service: extends.service.clone(), file: base_file };
            self.report(&extends.location, &extends.path, error);
            return Some(service);
        }
        chain.push(link);
        let base = self.resolve_service(&base_file, &extends.service, chain);
        chain.pop();
        let mut merged = base.unwrap_or_default();
        merge_service(&mut merged, service);
        Some(merged)
    }

    fn report(&mut self, location: &Location, path: &str, kind: ComposeError) {
        self.diagnostics.push(Diagnostic {
            severity: Severity::Error,
            file: location.file.clone(),
            span: location.span,
            path: path.to_string(),
            kind,
        });
    }
}
