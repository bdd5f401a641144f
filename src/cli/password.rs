//! Where the password comes from: the environment variable named by `--password-env`, or — when
//! none is named and a terminal is attached — a prompt that does not echo. Never the command line
//! (it would show in `ps` and shell history), never printed.

use std::io::IsTerminal;

use url::Url;

use crate::target_server::SetupError;

/// The password for `user` at `api_base`.
pub fn read_password(
    password_env: Option<&str>,
    user: &str,
    api_base: &Url,
) -> Result<String, SetupError> {
    if let Some(var) = password_env {
        return match std::env::var(var) {
            Ok(password) => Ok(password),
            Err(std::env::VarError::NotPresent) => Err(SetupError::Config(format!(
                "--password-env {var}: the environment variable {var} is not set"
            ))),
            Err(std::env::VarError::NotUnicode(_)) => Err(SetupError::Config(format!(
                "--password-env {var}: the value of {var} is not valid UTF-8"
            ))),
        };
    }
    if !std::io::stdin().is_terminal() {
        return Err(SetupError::Config(
            "--target needs a password: name the environment variable that holds it with \
             --password-env VAR (there is no terminal to ask on)"
                .into(),
        ));
    }
    let host = api_base.host_str().unwrap_or("the target");
    rpassword::prompt_password(format!("Password for {user} at {host}: "))
        .map_err(|e| SetupError::Config(format!("cannot read the password from the terminal: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unset_variable_is_named() {
        let base = Url::parse("https://em:9398/api/").unwrap();
        let err = read_password(Some("EMCONFORM_SURELY_UNSET_VAR"), "u", &base)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "--password-env EMCONFORM_SURELY_UNSET_VAR: the environment variable \
             EMCONFORM_SURELY_UNSET_VAR is not set"
        );
    }
}
