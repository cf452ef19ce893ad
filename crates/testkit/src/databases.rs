//! Databases for tests: a fresh SQLite file, or a fresh schema in the PostgreSQL server
//! named by `LOCRIT_TEST_POSTGRES_URL`, dropped again when the test ends.

use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// The variable that names the PostgreSQL server of the PostgreSQL suite.
pub const POSTGRES_URL_VAR: &str = "LOCRIT_TEST_POSTGRES_URL";

/// A database that exists for one test.
pub struct TestDatabase {
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        admin_url: String,
        schema: String,
        /// The tablespace its tables went to, dropped after them.
        tablespace: Option<String>,
    },
}

impl TestDatabase {
    /// A new SQLite database in its own temporary folder.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary folder");
        let url = format!("sqlite://{}", dir.path().join("locrit.db").display());
        Self {
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    /// A new, empty schema in the test PostgreSQL server. Panics when
    /// `LOCRIT_TEST_POSTGRES_URL` is not set: the PostgreSQL suite must not pass by
    /// running nothing.
    pub async fn postgres() -> Self {
        let admin_url = std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| {
            panic!("{POSTGRES_URL_VAR} must name a PostgreSQL server for this test (e.g. postgres://postgres@127.0.0.1:5432/test)")
        });
        Self::postgres_at(&admin_url).await
    }

    /// A new, empty schema in the PostgreSQL server at `admin_url`.
    pub async fn postgres_at(admin_url: &str) -> Self {
        Self::postgres_in(admin_url, None).await
    }

    /// A new, empty schema in the test PostgreSQL server whose tables are created on
    /// `disk` (a tablespace there), so that the disk filling up is PostgreSQL's own
    /// "could not extend file". Needs a superuser, and the server on this machine.
    pub async fn postgres_on(disk: &crate::SmallDisk) -> Self {
        let admin_url = std::env::var(POSTGRES_URL_VAR)
            .unwrap_or_else(|_| panic!("{POSTGRES_URL_VAR} must name a PostgreSQL server"));
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("connect to the test PostgreSQL");
        // The tablespace's folder must be the server's own: its data folder's owner.
        let (data,): (String,) = sqlx::query_as("SHOW data_directory")
            .fetch_one(&mut admin)
            .await
            .expect("find the data folder");
        let owner = std::fs::metadata(data).expect("read the data folder's owner");
        let folder = disk.path().join("tablespace");
        std::fs::create_dir(&folder).expect("create the tablespace's folder");
        use std::os::unix::fs::MetadataExt;
        std::os::unix::fs::chown(&folder, Some(owner.uid()), Some(owner.gid()))
            .expect("give the folder to the database server");
        let tablespace = format!("locrit_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(&format!(
            "CREATE TABLESPACE {tablespace} LOCATION '{}'",
            folder.display()
        ))
        .execute(&mut admin)
        .await
        .expect("create a tablespace on the small disk");
        Self::postgres_in(&admin_url, Some(tablespace)).await
    }

    async fn postgres_in(admin_url: &str, tablespace: Option<String>) -> Self {
        let admin_url = admin_url.to_owned();
        let schema = format!("locrit_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("connect to the test PostgreSQL");
        sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .await
            .expect("create a test schema");
        let in_tablespace = tablespace
            .as_ref()
            .map(|name| format!("%20-c%20default_tablespace%3D{name}"))
            .unwrap_or_default();
        let url = format!(
            "{}{in_tablespace}",
            postgres_schema_url(&admin_url, &schema)
        );
        Self {
            url,
            cleanup: Cleanup::Postgres {
                admin_url,
                schema,
                tablespace,
            },
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

/// The server at `admin_url`, its connections working in `schema` (which must exist).
/// The application name tags them with the schema, so a cleanup can end them.
pub fn postgres_schema_url(admin_url: &str, schema: &str) -> String {
    let separator = if admin_url.contains('?') { '&' } else { '?' };
    format!("{admin_url}{separator}application_name={schema}&options=-c%20search_path%3D{schema}")
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::Postgres {
            admin_url,
            schema,
            tablespace,
        } = &self.cleanup
        {
            let (admin_url, schema) = (admin_url.clone(), schema.clone());
            let drop_tablespace = tablespace
                .as_ref()
                .map(|name| format!("DROP TABLESPACE {name}"));
            // Drop may run inside a runtime: use a thread with its own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime
                    .block_on(async {
                        let mut admin = PgConnection::connect(&admin_url).await?;
                        sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
                            .execute(&mut admin)
                            .await?;
                        if let Some(sql) = drop_tablespace {
                            sqlx::raw_sql(&sql).execute(&mut admin).await?;
                        }
                        Ok::<_, sqlx::Error>(())
                    })
                    .map_err(std::io::Error::other)
            })
            .join();
        }
    }
}
