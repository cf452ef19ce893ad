//! Managing Locrits: create, read, update (rename and activation included), delete.

use locrit_domain::{EMBEDDED_ENGINE, Locrit, LocritPatch, NewLocrit, Requester};
use locrit_store::StoreError;
use uuid::Uuid;

use crate::{Core, Error, Result};

impl Core {
    /// Creates a Locrit. A name already taken is a `Conflict`, even when two requests race.
    /// One that names no server gets the default engine: see [`Core::choose_default_engine`].
    pub async fn create_locrit(&self, new: NewLocrit) -> Result<Locrit> {
        self.create_locrit_for(new, &Requester::Local).await
    }

    /// Creates a Locrit owned by the account that asks (none under local trust: the
    /// admins manage it).
    pub async fn create_locrit_for(
        &self,
        mut new: NewLocrit,
        requester: &Requester,
    ) -> Result<Locrit> {
        let mut default_url = self.global_config().await?.ollama.base_url;
        if new.ollama_url.is_none()
            && let Some(model) = self.embedded_default_model()
        {
            default_url = EMBEDDED_ENGINE.to_owned();
            new.ollama_model = model.to_owned();
        }
        let mut locrit = new.into_locrit(&default_url)?;
        locrit.owner_id = requester.account().map(|account| account.id.to_string());
        self.insert_locrit(&locrit).await?;
        Ok(locrit)
    }

    /// Stores a new Locrit. A name already taken is a `Conflict`, even when two race.
    pub(crate) async fn insert_locrit(&self, locrit: &Locrit) -> Result<()> {
        self.store
            .insert_locrit(locrit)
            .await
            .map_err(|e| name_conflict(e, &locrit.name))?;
        tracing::info!(locrit = %locrit.name, id = %locrit.id, "Locrit created");
        Ok(())
    }

    /// Every Locrit, by name.
    pub async fn locrits(&self) -> Result<Vec<Locrit>> {
        Ok(self.store.locrits().await?)
    }

    /// The Locrits `requester` manages, by name: an admin's are all of them.
    pub async fn managed_locrits(&self, requester: &Requester) -> Result<Vec<Locrit>> {
        let mut locrits = self.locrits().await?;
        locrits.retain(|locrit| requester.caller_for(locrit) == locrit_domain::Caller::Owner);
        Ok(locrits)
    }

    pub async fn locrit(&self, id: Uuid) -> Result<Locrit> {
        self.store
            .locrit(id)
            .await?
            .ok_or(Error::NotFound("Locrit"))
    }

    /// The Locrit with exactly this name (case-sensitive).
    pub async fn locrit_named(&self, name: &str) -> Result<Locrit> {
        self.store
            .locrit_by_name(name)
            .await?
            .ok_or(Error::NotFound("Locrit"))
    }

    /// Applies a partial update. A new name moves everything the Locrit owns with it,
    /// since memory and sessions hang off its id, not its name.
    pub async fn update_locrit(&self, mut locrit: Locrit, patch: LocritPatch) -> Result<Locrit> {
        locrit.apply(patch)?;
        self.save_locrit(&locrit).await?;
        Ok(locrit)
    }

    /// Writes a Locrit already validated by the caller.
    pub(crate) async fn save_locrit(&self, locrit: &Locrit) -> Result<()> {
        let found = self
            .store
            .update_locrit(locrit)
            .await
            .map_err(|e| name_conflict(e, &locrit.name))?;
        if found {
            Ok(())
        } else {
            Err(Error::NotFound("Locrit"))
        }
    }

    /// Deletes a Locrit and everything it remembers, so a new Locrit of the same name
    /// starts blank.
    pub async fn delete_locrit(&self, locrit: &Locrit) -> Result<()> {
        if !self.store.delete_locrit(locrit.id).await? {
            return Err(Error::NotFound("Locrit"));
        }
        self.forget_search_indexes(locrit.id).await;
        tracing::info!(locrit = %locrit.name, id = %locrit.id, "Locrit deleted");
        Ok(())
    }
}

pub(crate) fn name_conflict(error: StoreError, name: &str) -> Error {
    match error {
        StoreError::Conflict(_) => {
            Error::Conflict(format!("a Locrit named {name:?} already exists"))
        }
        other => other.into(),
    }
}
