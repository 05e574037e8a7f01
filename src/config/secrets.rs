//! Secrets named in the configuration by an environment variable or a
//! file, read once when it is loaded (the only place logtap reads them).

use logtap_core::Secret;

/// The `<name>_env` / `<name>_file` pair by which a config section names a
/// secret without holding it (`password_env`, `sasl_password_file`, ...):
/// one of them, never both, resolved once when the configuration is read.
#[derive(Debug, Clone, Copy)]
pub struct SecretRef<'a> {
    /// The section, as the error should name it (`postgres`, `kafka`).
    pub section: &'a str,
    /// The secret's name in it (`password`, `sasl_password`).
    pub name: &'a str,
    /// The environment variable holding it.
    pub env: Option<&'a str>,
    /// The file holding it (a trailing newline is not part of it).
    pub file: Option<&'a str>,
}

impl SecretRef<'_> {
    /// The secret, or `None` when neither is set; the error names the field
    /// at fault (`postgres.password_env: environment variable ... is not set`).
    pub fn resolve(self) -> Result<Option<Secret>, (String, String)> {
        let env_field = format!("{}.{}_env", self.section, self.name);
        let file_field = format!("{}.{}_file", self.section, self.name);
        match (self.env, self.file) {
            (Some(_), Some(_)) => Err((
                env_field.clone(),
                format!("set either {env_field} or {file_field}, not both"),
            )),
            (Some(var), None) => std::env::var(var)
                .map(|v| Some(Secret::new(v)))
                .map_err(|_| (env_field, format!("environment variable `{var}` is not set"))),
            (None, Some(f)) => std::fs::read_to_string(f)
                .map(|s| Some(Secret::new(s.trim_end_matches(['\n', '\r']))))
                .map_err(|e| (file_field, format!("cannot read `{f}`: {e}"))),
            (None, None) => Ok(None),
        }
    }
}
