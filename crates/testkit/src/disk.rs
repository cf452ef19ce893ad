//! A small disk for tests: a tmpfs of a few MiB, so that a full disk is the kernel's own
//! `ENOSPC`, not a simulation. Mounting needs root (CAP_SYS_ADMIN), as on the project's
//! machines and CI; the tests that use it are in the suite run with `--ignored`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted on a temporary folder, unmounted when dropped.
pub struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a disk of `bytes`. Panics, saying why, when this process may not mount.
    pub fn mount(bytes: u64) -> Self {
        let dir = tempfile::tempdir().expect("create a mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes},mode=0755")])
            .arg("tmpfs")
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(
            mounted.status.success(),
            "a small disk needs root to mount a tmpfs: {}",
            String::from_utf8_lossy(&mounted.stderr)
        );
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the disk with one file, leaving about `free` bytes; removing the file
    /// frees the space again.
    pub fn fill_leaving(&self, free: u64) -> PathBuf {
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).expect("create the filler");
        let chunk = vec![0u8; 64 << 10];
        let mut written = 0u64;
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(error) if error.raw_os_error() == Some(28) => break, // ENOSPC
                Err(error) => panic!("fill the disk: {error}"),
            }
        }
        file.set_len(written.saturating_sub(free))
            .expect("leave room on the disk");
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: a server of the test may still hold a file open.
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}
