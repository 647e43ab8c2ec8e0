//! Accounts: a name, a role and an argon2id password hash.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::Argon2;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use sqlx::Row as _;

use super::secret::{new_id, now};
use super::{Identity, IdentityError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs the service: users, every class, every session.
    Admin,
    /// Makes classes and sees its own classes' sessions.
    Instructor,
    /// Uses a seat of a class.
    Student,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Instructor => "instructor",
            Role::Student => "student",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = IdentityError;

    fn from_str(text: &str) -> Result<Role, IdentityError> {
        match text {
            "admin" => Ok(Role::Admin),
            "instructor" => Ok(Role::Instructor),
            "student" => Ok(Role::Student),
            other => Err(IdentityError::Invalid(format!("unknown role {other:?} (admin, instructor or student)"))),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created: i64,
}

/// A name people type: 1 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit.
pub(crate) fn check_name(kind: &str, name: &str) -> Result<(), IdentityError> {
    let good = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if good {
        Ok(())
    } else {
        Err(IdentityError::Invalid(format!(
            "{kind} name {name:?}: use 1 to 64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
        )))
    }
}

const MIN_PASSWORD: usize = 8;

fn hash_password(password: &str) -> Result<String, IdentityError> {
    let salt_bytes: [u8; 16] = rand::rng().random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| IdentityError::Hash(e.to_string()))?;
    // Argon2::default() is argon2id, version 0x13, with OWASP's minimum cost (19 MiB, 2 passes).
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| IdentityError::Hash(e.to_string()))
}

fn password_matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
}

impl Identity {
    pub async fn create_user(&self, name: &str, role: Role, password: &str) -> Result<User, IdentityError> {
        check_name("user", name)?;
        if password.chars().count() < MIN_PASSWORD {
            return Err(IdentityError::Invalid(format!("a password needs at least {MIN_PASSWORD} characters")));
        }
        let password = password.to_string();
        // Hashing costs tens of milliseconds of CPU on purpose: not on the async workers.
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| IdentityError::Hash(e.to_string()))??;
        let user = User { id: new_id(8), name: name.to_string(), role, created: now() };
        let inserted =
            sqlx::query("INSERT INTO users (id, name, role, password_hash, created) VALUES ($1, $2, $3, $4, $5)")
                .bind(&user.id)
                .bind(&user.name)
                .bind(role.as_str())
                .bind(&hash)
                .bind(user.created)
                .execute(&self.pool)
                .await;
        IdentityError::unless_taken(inserted, "user", name)?;
        Ok(user)
    }

    /// The user if the password is theirs. An unknown name costs the same hash as a wrong password, so timing
    /// does not tell which names exist.
    pub async fn sign_in(&self, name: &str, password: &str) -> Result<User, IdentityError> {
        let row = sqlx::query("SELECT id, name, role, password_hash, created FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        let stored = match &row {
            Some(row) => row.try_get::<String, _>("password_hash")?,
            None => self.decoy_hash.clone(),
        };
        let password = password.to_string();
        let matches = tokio::task::spawn_blocking(move || password_matches(&password, &stored))
            .await
            .map_err(|e| IdentityError::Hash(e.to_string()))?;
        match row {
            Some(row) if matches => user_from_row(&row),
            _ => Err(IdentityError::SignInFailed),
        }
    }

    pub async fn user(&self, name: &str) -> Result<User, IdentityError> {
        let row = sqlx::query("SELECT id, name, role, created FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| IdentityError::NotFound { kind: "user", name: name.to_string() })?;
        user_from_row(&row)
    }

    /// The name of the user with this id (classes and sessions keep ids).
    pub(crate) async fn user_name(&self, id: &str) -> Result<String, IdentityError> {
        let row = sqlx::query("SELECT name FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| IdentityError::NotFound { kind: "user", name: id.to_string() })?;
        Ok(row.try_get("name")?)
    }

    pub async fn users(&self) -> Result<Vec<User>, IdentityError> {
        let rows = sqlx::query("SELECT id, name, role, created FROM users ORDER BY name").fetch_all(&self.pool).await?;
        rows.iter().map(user_from_row).collect()
    }
}

/// A hash no password is known for, checked when the name is unknown.
pub(crate) fn decoy_hash() -> Result<String, IdentityError> {
    let password: [u8; 16] = rand::rng().random();
    hash_password(&hex::encode(password))
}

pub(crate) fn user_from_row(row: &sqlx::any::AnyRow) -> Result<User, IdentityError> {
    Ok(User {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: row.try_get::<String, _>("role")?.parse()?,
        created: row.try_get("created")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_argon2id_and_salted() {
        let first = hash_password("correct horse").expect("hash");
        let second = hash_password("correct horse").expect("hash");
        assert!(first.starts_with("$argon2id$v=19$"), "{first}");
        assert_ne!(first, second, "each hash has its own salt");
        assert!(password_matches("correct horse", &first));
        assert!(!password_matches("correct horsE", &first));
        assert!(!password_matches("correct horse", "not a hash"));
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("user", "alice.b-2").is_ok());
        for bad in ["", "Alice", "-x", "a b", "a/b", &"x".repeat(65)] {
            assert!(check_name("user", bad).is_err(), "{bad:?}");
        }
    }
}
