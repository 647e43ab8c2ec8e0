//! Classes: a name, a number of seats, what each seat's session may use and how long it lives, and the join links
//! that hand the seats out.

use serde::{Deserialize, Serialize};
use sqlx::Row as _;

use super::accounts::{check_name, Role, User};
use super::secret::{new_id, new_token, now, token_hash};
use super::{Identity, IdentityError};

/// What one session of a class may use, and how long it lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassLimits {
    pub max_age_secs: i64,
    pub idle_secs: i64,
    pub memory_bytes: i64,
    /// CPUs in billionths, as Docker's NanoCpus.
    pub nano_cpus: i64,
    pub pids: i64,
    pub disk_bytes: i64,
    pub containers: i64,
    /// Host ports published, all the session's containers together.
    #[serde(default = "default_ports")]
    pub ports: i64,
    /// How far past `max_age_secs` the session may be extended ("extend" in the page), in all; 0 for never.
    #[serde(default = "default_extend")]
    pub extend_secs: i64,
}

fn default_ports() -> i64 {
    10
}

fn default_extend() -> i64 {
    3600
}

impl Default for ClassLimits {
    /// play-with-docker's shape: 4 hours, a few containers, a couple of GiB.
    fn default() -> Self {
        ClassLimits {
            max_age_secs: 4 * 3600,
            idle_secs: 30 * 60,
            memory_bytes: 2 << 30,
            nano_cpus: 1_000_000_000,
            pids: 500,
            disk_bytes: 5 << 30,
            containers: 10,
            ports: default_ports(),
            extend_secs: default_extend(),
        }
    }
}

impl ClassLimits {
    fn check(&self) -> Result<(), IdentityError> {
        let fields = [
            ("max age", self.max_age_secs),
            ("idle timeout", self.idle_secs),
            ("memory", self.memory_bytes),
            ("cpus", self.nano_cpus),
            ("pids", self.pids),
            ("disk", self.disk_bytes),
            ("containers", self.containers),
            ("published ports", self.ports),
        ];
        if let Some((name, value)) = fields.iter().find(|(_, value)| *value <= 0) {
            return Err(IdentityError::Invalid(format!("a class's {name} must be above 0, not {value}")));
        }
        if self.extend_secs < 0 {
            return Err(IdentityError::Invalid(format!(
                "a class's extension must be 0 or more seconds, not {}",
                self.extend_secs
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Class {
    pub id: String,
    pub name: String,
    /// The account whose class it is (its instructor's view shows it); none for the operator's.
    #[serde(default)]
    pub instructor: Option<String>,
    pub seats: i64,
    pub limits: ClassLimits,
    pub created: i64,
}

/// A join link's token, given out once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinLink {
    pub token: String,
    pub class: String,
    pub expires: i64,
}

const CLASS_COLUMNS: &str = "id, name, instructor, seats, max_age_secs, idle_secs, memory_bytes, nano_cpus, pids, \
     disk_bytes, containers, ports, extend_secs, created";

impl Identity {
    /// A class of the operator's.
    pub async fn create_class(&self, name: &str, seats: i64, limits: ClassLimits) -> Result<Class, IdentityError> {
        self.insert_class(name, seats, limits, None).await
    }

    /// A class of `instructor`'s, shown in their view.
    pub async fn create_class_of(
        &self,
        instructor: &User,
        name: &str,
        seats: i64,
        limits: ClassLimits,
    ) -> Result<Class, IdentityError> {
        self.insert_class(name, seats, limits, Some(instructor)).await
    }

    async fn insert_class(
        &self,
        name: &str,
        seats: i64,
        limits: ClassLimits,
        instructor: Option<&User>,
    ) -> Result<Class, IdentityError> {
        check_name("class", name)?;
        if !(1..=10_000).contains(&seats) {
            return Err(IdentityError::Invalid(format!("a class has 1 to 10000 seats, not {seats}")));
        }
        limits.check()?;
        let class = Class {
            id: new_id(8),
            name: name.to_string(),
            instructor: instructor.map(|user| user.name.clone()),
            seats,
            limits,
            created: now(),
        };
        let inserted = sqlx::query(&format!(
            "INSERT INTO classes ({CLASS_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(&class.id)
        .bind(&class.name)
        .bind(instructor.map(|user| user.id.clone()))
        .bind(seats)
        .bind(limits.max_age_secs)
        .bind(limits.idle_secs)
        .bind(limits.memory_bytes)
        .bind(limits.nano_cpus)
        .bind(limits.pids)
        .bind(limits.disk_bytes)
        .bind(limits.containers)
        .bind(limits.ports)
        .bind(limits.extend_secs)
        .bind(class.created)
        .execute(&self.pool)
        .await;
        IdentityError::unless_taken(inserted, "class", name)?;
        Ok(class)
    }

    pub async fn class(&self, name: &str) -> Result<Class, IdentityError> {
        let row = sqlx::query(&format!("SELECT {CLASS_COLUMNS} FROM classes WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| IdentityError::NotFound { kind: "class", name: name.to_string() })?;
        self.class_from_row(&row).await
    }

    pub(crate) async fn class_by_id(&self, id: &str) -> Result<Class, IdentityError> {
        let row = sqlx::query(&format!("SELECT {CLASS_COLUMNS} FROM classes WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| IdentityError::NotFound { kind: "class", name: id.to_string() })?;
        self.class_from_row(&row).await
    }

    pub async fn classes(&self) -> Result<Vec<Class>, IdentityError> {
        let rows =
            sqlx::query(&format!("SELECT {CLASS_COLUMNS} FROM classes ORDER BY name")).fetch_all(&self.pool).await?;
        let mut classes = Vec::with_capacity(rows.len());
        for row in &rows {
            classes.push(self.class_from_row(row).await?);
        }
        Ok(classes)
    }

    /// The classes `user` may see and run: an admin's are all of them, an instructor's their own.
    pub async fn classes_of(&self, user: &User) -> Result<Vec<Class>, IdentityError> {
        let all = self.classes().await?;
        Ok(match user.role {
            Role::Admin => all,
            Role::Instructor => all.into_iter().filter(|class| class.instructor.as_ref() == Some(&user.name)).collect(),
            Role::Student => Vec::new(),
        })
    }

    /// `class` (by name) if `user` may run it; another instructor's class is as unknown as a missing one.
    pub async fn class_of(&self, user: &User, class: &str) -> Result<Class, IdentityError> {
        let found = self.class(class).await?;
        let runs_it = match user.role {
            Role::Admin => true,
            Role::Instructor => found.instructor.as_ref() == Some(&user.name),
            Role::Student => false,
        };
        if runs_it {
            Ok(found)
        } else {
            Err(IdentityError::NotFound { kind: "class", name: class.to_string() })
        }
    }

    /// A link that seats whoever opens it in `class` until it expires (`valid_secs`) or is revoked; each opening
    /// takes one of the class's free seats.
    pub async fn create_join_link(&self, class: &str, valid_secs: i64) -> Result<JoinLink, IdentityError> {
        let class = self.class(class).await?;
        if valid_secs <= 0 {
            return Err(IdentityError::Invalid(format!("a join link must be valid for some time, not {valid_secs} s")));
        }
        let link = JoinLink { token: new_token("bj"), class: class.name, expires: now() + valid_secs };
        sqlx::query(
            "INSERT INTO join_links (token_hash, class_id, expires, revoked, created) VALUES ($1, $2, $3, 0, $4)",
        )
        .bind(token_hash(&link.token))
        .bind(&class.id)
        .bind(link.expires)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(link)
    }

    /// Revokes every join link of `class`; sessions already seated keep going.
    pub async fn revoke_join_links(&self, class: &str) -> Result<u64, IdentityError> {
        let class = self.class(class).await?;
        let done = sqlx::query("UPDATE join_links SET revoked = 1 WHERE class_id = $1")
            .bind(&class.id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// The class a join link seats people in, if the link is good.
    pub(crate) async fn join_link_class(&self, token: &str) -> Result<Class, IdentityError> {
        let row = sqlx::query("SELECT class_id, expires, revoked FROM join_links WHERE token_hash = $1")
            .bind(token_hash(token))
            .fetch_optional(&self.pool)
            .await?
            .ok_or(IdentityError::BadToken)?;
        if row.try_get::<i64, _>("revoked")? != 0 {
            return Err(IdentityError::LinkRevoked);
        }
        if row.try_get::<i64, _>("expires")? <= now() {
            return Err(IdentityError::LinkExpired);
        }
        self.class_by_id(&row.try_get::<String, _>("class_id")?).await
    }
}

impl Identity {
    async fn class_from_row(&self, row: &sqlx::any::AnyRow) -> Result<Class, IdentityError> {
        let instructor = match row.try_get::<Option<String>, _>("instructor")? {
            Some(id) => Some(self.user_name(&id).await?),
            None => None,
        };
        class_fields(row, instructor)
    }
}

fn class_fields(row: &sqlx::any::AnyRow, instructor: Option<String>) -> Result<Class, IdentityError> {
    Ok(Class {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        instructor,
        seats: row.try_get("seats")?,
        limits: ClassLimits {
            max_age_secs: row.try_get("max_age_secs")?,
            idle_secs: row.try_get("idle_secs")?,
            memory_bytes: row.try_get("memory_bytes")?,
            nano_cpus: row.try_get("nano_cpus")?,
            pids: row.try_get("pids")?,
            disk_bytes: row.try_get("disk_bytes")?,
            containers: row.try_get("containers")?,
            ports: row.try_get("ports")?,
            extend_secs: row.try_get("extend_secs")?,
        },
        created: row.try_get("created")?,
    })
}
