//! An index kept on disk between runs: a restart loads the graph and catches up with
//! the store instead of building it again from every vector (about 20 minutes for a
//! million on two cores).
//!
//! A save writes `hnsw_rs`'s two files (`<locrit>-<save id>.hnsw.graph` and
//! `.hnsw.data`), then this module's own `<locrit>.ann`: the model, what each point
//! stands for and when its vector was stored, when the store was read, and the name
//! and sizes of the two files. The `.ann` file is renamed into place last, so a save
//! cut short leaves the previous one whole; the files of older saves are removed after.
//! Names come from the Locrit's id (made by the server), never from what a client sent.
//!
//! A load trusts the graph for what the store held when it was read; the catch-up that
//! follows reads what came after, as after a build. Any surprise (another format or
//! dimension, files of other sizes, a graph of another size, an error or a panic inside
//! `hnsw_rs`, which asserts on what it reads) means no load: the index is built from
//! the store instead.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use chrono::{DateTime, Utc};
use hnsw_rs::prelude::{AnnT, DistL2, HnswIo};
use locrit_store::{ItemKind, ItemRef};
use uuid::Uuid;

use super::{AnnIndex, State};

const MAGIC: &[u8; 8] = b"LOCRANN\0";
const FORMAT: u32 = 1;

fn index_file(dir: &Path, locrit: Uuid) -> PathBuf {
    dir.join(format!("{locrit}.ann"))
}

/// Removes the graph files of `locrit`'s saves but the one named `keep`.
fn remove_graphs(dir: &Path, locrit: Uuid, keep: Option<&str>) -> io::Result<()> {
    let prefix = format!("{locrit}-");
    let entries = match fs::read_dir(dir) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        entries => entries?,
    };
    for entry in entries {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        let kept = keep.is_some_and(|keep| {
            name.strip_prefix(keep)
                .is_some_and(|rest| rest.starts_with(".hnsw."))
        });
        if name.starts_with(&prefix) && !kept {
            fs::remove_file(dir.join(name))?;
        }
    }
    Ok(())
}

impl AnnIndex {
    /// Removes every file of the index saved for `locrit` in `dir`.
    pub(crate) fn remove_saved(dir: &Path, locrit: Uuid) -> io::Result<()> {
        remove_graphs(dir, locrit, None)?;
        let list = index_file(dir, locrit);
        for file in [list.with_extension("ann.tmp"), list] {
            match fs::remove_file(file) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
        }
        Ok(())
    }

    /// Saves the graph in `dir` (made if missing), unless it holds no point it did not
    /// hold when last saved or loaded. Returns whether it wrote. Inserts wait (or, from
    /// a search, are left for later) until it is done.
    pub(crate) fn save(&self, dir: &Path, locrit: Uuid, model: &str) -> io::Result<bool> {
        let _no_inserts = self.inserting.write().expect("ann inserts");
        let (saved, snapshot) = {
            let mut state = self.state.lock().expect("ann state");
            state.save_asked = false;
            let snapshot = match (state.dim, state.read_at) {
                (Some(dim), Some(read_at)) if state.points.len() > state.saved => Snapshot {
                    dim,
                    read_at,
                    points: state.points.clone(),
                },
                _ => return Ok(false),
            };
            // Counted as saved from now, so that no other save is asked for meanwhile.
            (
                std::mem::replace(&mut state.saved, snapshot.points.len()),
                snapshot,
            )
        };
        let written = self.write(dir, locrit, model, &snapshot);
        if written.is_err() {
            self.state.lock().expect("ann state").saved = saved;
        }
        written.map(|()| true)
    }

    fn write(&self, dir: &Path, locrit: Uuid, model: &str, snapshot: &Snapshot) -> io::Result<()> {
        let Snapshot {
            dim,
            read_at,
            points,
        } = snapshot;
        fs::create_dir_all(dir)?;
        let basename = format!("{locrit}-{}", Uuid::new_v4());
        let written = catch_unwind(AssertUnwindSafe(|| self.graph.file_dump(dir, &basename)))
            .map_err(|_| io::Error::other("hnsw_rs panicked writing the graph"))?
            .map_err(io::Error::other)?;
        if written != basename {
            return Err(io::Error::other(format!(
                "hnsw_rs wrote {written}, not {basename}"
            )));
        }
        let mut sizes = [0; 2];
        for (size, extension) in sizes.iter_mut().zip(["graph", "data"]) {
            let file = File::open(dir.join(format!("{basename}.hnsw.{extension}")))?;
            file.sync_all()?;
            *size = file.metadata()?.len();
        }

        let mut out = Vec::with_capacity(64 + points.len() * POINT_BYTES);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT.to_le_bytes());
        put_text(&mut out, model);
        out.extend_from_slice(&u32::try_from(*dim).map_err(io::Error::other)?.to_le_bytes());
        put_time(&mut out, *read_at)?;
        put_text(&mut out, &basename);
        out.extend_from_slice(&sizes[0].to_le_bytes());
        out.extend_from_slice(&sizes[1].to_le_bytes());
        out.extend_from_slice(&(points.len() as u64).to_le_bytes());
        for (item, stored_at) in points {
            out.push(match item.kind {
                ItemKind::Message => 0,
                ItemKind::Memory => 1,
            });
            out.extend_from_slice(item.id.as_bytes());
            put_time(&mut out, *stored_at)?;
        }
        let final_path = index_file(dir, locrit);
        // Removed with the others by `remove_saved`, should a crash leave it.
        let temporary = final_path.with_extension("ann.tmp");
        let mut file = File::create(&temporary)?;
        file.write_all(&out)?;
        file.sync_all()?;
        fs::rename(&temporary, &final_path)?;
        File::open(dir)?.sync_all()?;
        remove_graphs(dir, locrit, Some(&basename))
    }

    /// The index saved in `dir` for `locrit`; `Ok(None)` when there is none, or when it
    /// is of another model.
    pub(crate) fn load(dir: &Path, locrit: Uuid, model: &str) -> io::Result<Option<Self>> {
        let bytes = match fs::read(index_file(dir, locrit)) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            bytes => bytes?,
        };
        let mut saved = Reader(&bytes);
        if saved.take(MAGIC.len())? != MAGIC || saved.u32()? != FORMAT {
            return Err(damaged("not a Locrit index file of this version"));
        }
        if saved.text()? != model {
            return Ok(None);
        }
        let dim = saved.u32()? as usize;
        let read_at = saved.time()?;
        let basename = saved.text()?;
        let is_ours = basename
            .strip_prefix(&format!("{locrit}-"))
            .and_then(|id| Uuid::try_parse(id).ok())
            .is_some();
        if !is_ours {
            return Err(damaged("it names graph files of another index"));
        }
        for extension in ["graph", "data"] {
            let size = fs::metadata(dir.join(format!("{basename}.hnsw.{extension}")))?.len();
            if size != saved.u64()? {
                return Err(damaged("its graph files are not the size it saved"));
            }
        }
        let count = usize::try_from(saved.u64()?).map_err(io::Error::other)?;
        if saved.0.len() != count.saturating_mul(POINT_BYTES) {
            return Err(damaged("its list of points is not the length it says"));
        }
        let mut points = Vec::with_capacity(count);
        let mut stored_at: HashMap<ItemRef, DateTime<Utc>> = HashMap::with_capacity(count);
        for _ in 0..count {
            let kind = match saved.take(1)?[0] {
                0 => ItemKind::Message,
                1 => ItemKind::Memory,
                _ => return Err(damaged("a point of an unknown kind")),
            };
            let id = Uuid::from_slice(saved.take(16)?).map_err(io::Error::other)?;
            let item = ItemRef { kind, id };
            let at = saved.time()?;
            let newest = stored_at.entry(item).or_insert(at);
            *newest = (*newest).max(at);
            points.push((item, at));
        }

        // hnsw_rs ties a loaded graph to its loader, which a memory-mapped graph reads
        // from. This one is read into memory: the loader, a few hundred bytes, is
        // leaked once per load so that the graph can live as long as the index.
        let loader: &'static mut HnswIo = Box::leak(Box::new(HnswIo::new(dir, &basename)));
        let mut graph = catch_unwind(AssertUnwindSafe(move || {
            let loader = loader; // moved in, so the graph may borrow it for 'static
            loader.load_hnsw::<f32, DistL2>()
        }))
        .map_err(|_| damaged("hnsw_rs panicked reading the graph"))?
        .map_err(io::Error::other)?;
        if graph.get_nb_point() != count || graph.get_point_indexation().get_data_dimension() != dim
        {
            return Err(damaged("its graph holds other points than it lists"));
        }
        // As `Hnsw::new` sets it; a loaded graph comes with `true`.
        graph.set_extend_candidates(false);
        Ok(Some(Self {
            graph,
            state: Mutex::new(State {
                dim: Some(dim),
                points,
                stored_at,
                read_at: Some(read_at),
                caught_up: None,
                stale: false,
                saved: count,
                save_asked: false,
            }),
            inserting: RwLock::default(),
        }))
    }
}

/// What a save writes, as it was when the save began.
struct Snapshot {
    dim: usize,
    read_at: DateTime<Utc>,
    points: Vec<(ItemRef, DateTime<Utc>)>,
}

/// A point's bytes: its kind, its item's id, when its vector was stored.
const POINT_BYTES: usize = 1 + 16 + 8;

fn damaged(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.to_owned())
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// In nanoseconds: the store's times, to the last digit, so that a point's time still
/// equals its row's.
fn put_time(out: &mut Vec<u8>, at: DateTime<Utc>) -> io::Result<()> {
    let nanos = at
        .timestamp_nanos_opt()
        .ok_or_else(|| io::Error::other("a time out of range"))?;
    out.extend_from_slice(&nanos.to_le_bytes());
    Ok(())
}

/// Reads a saved index from the front.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> io::Result<&'a [u8]> {
        if self.0.len() < count {
            return Err(damaged("it ends too soon"));
        }
        let (taken, rest) = self.0.split_at(count);
        self.0 = rest;
        Ok(taken)
    }

    fn u32(&mut self) -> io::Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> io::Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn time(&mut self) -> io::Result<DateTime<Utc>> {
        let nanos = i64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes"));
        Ok(DateTime::from_timestamp_nanos(nanos))
    }

    fn text(&mut self) -> io::Result<String> {
        let length = self.u32()? as usize;
        String::from_utf8(self.take(length)?.to_vec()).map_err(|_| damaged("a name is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use locrit_store::StoredVector;

    use super::super::SAVE_AGAIN_FROM;
    use super::super::tests::random_vectors;
    use super::*;

    fn index_of(vectors: &[Vec<f32>], at: DateTime<Utc>) -> AnnIndex {
        let index = AnnIndex::new(vectors.len());
        index.add(
            vectors
                .iter()
                .enumerate()
                .map(|(n, vector)| StoredVector {
                    item: ItemRef {
                        kind: if n % 3 == 0 {
                            ItemKind::Memory
                        } else {
                            ItemKind::Message
                        },
                        id: Uuid::now_v7(),
                    },
                    vector: vector.clone(),
                    // Nanoseconds that a rounding to microseconds would lose.
                    created_at: at + Duration::nanoseconds(n as i64 * 1_001),
                })
                .collect(),
        );
        index.read_done(at);
        index
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_saved_index_loads_back_with_the_same_points_neighbours_and_read_time() {
        let dir = tempfile::tempdir().unwrap();
        let locrit = Uuid::now_v7();
        let at = Utc::now();
        let original = index_of(&random_vectors(2_000, 16, 7), at);
        assert!(original.save(dir.path(), locrit, "embed").unwrap());
        assert!(
            !original.save(dir.path(), locrit, "embed").unwrap(),
            "nothing new: not written again"
        );

        let loaded = AnnIndex::load(dir.path(), locrit, "embed")
            .unwrap()
            .expect("saved");
        assert_eq!(loaded.len(), original.len());
        assert_eq!(loaded.dim(), Some(16));
        assert_eq!(loaded.catch_up_since(), original.catch_up_since());
        for query in random_vectors(50, 16, 99) {
            assert_eq!(loaded.nearest(&query, 10), original.nearest(&query, 10));
        }
        assert!(
            AnnIndex::load(dir.path(), locrit, "another-model")
                .unwrap()
                .is_none(),
            "another model's index is not this one"
        );
        assert!(
            AnnIndex::load(dir.path(), Uuid::now_v7(), "embed")
                .unwrap()
                .is_none()
        );

        // A loaded graph takes new points, and its next save replaces the last one.
        let before = files_in(dir.path());
        assert_eq!(before.len(), 3, "{before:?}");
        let newer = StoredVector {
            item: ItemRef {
                kind: ItemKind::Message,
                id: Uuid::now_v7(),
            },
            vector: vec![1.0; 16],
            created_at: at + Duration::seconds(1),
        };
        loaded.add(vec![newer.clone()]);
        assert!(loaded.save(dir.path(), locrit, "embed").unwrap());
        let after = files_in(dir.path());
        assert_eq!(after.len(), 3, "the older save's files are gone: {after:?}");
        assert_ne!(after, before);
        let again = AnnIndex::load(dir.path(), locrit, "embed")
            .unwrap()
            .expect("saved");
        assert_eq!(again.len(), 2_001);
        let nearest = again.nearest(&[2.0; 16], 1);
        assert_eq!(
            (nearest[0].item, nearest[0].stored_at),
            (newer.item, newer.created_at)
        );

        std::fs::write(dir.path().join(format!("{locrit}.ann.tmp")), b"cut short").unwrap();
        AnnIndex::remove_saved(dir.path(), locrit).unwrap();
        assert!(files_in(dir.path()).is_empty());
        assert!(
            AnnIndex::load(dir.path(), locrit, "embed")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_growing_graph_asks_to_be_saved_each_time_it_doubles() {
        let dir = tempfile::tempdir().unwrap();
        let locrit = Uuid::now_v7();
        let at = Utc::now();
        let vectors = random_vectors(2 * SAVE_AGAIN_FROM, 4, 11);
        let index = index_of(&vectors[..SAVE_AGAIN_FROM - 1], at);
        assert!(!index.ask_save_if_due(), "small graphs build in no time");
        let more = |range: std::ops::Range<usize>| {
            vectors[range]
                .iter()
                .map(|vector| StoredVector {
                    item: ItemRef {
                        kind: ItemKind::Message,
                        id: Uuid::now_v7(),
                    },
                    vector: vector.clone(),
                    created_at: at,
                })
                .collect::<Vec<_>>()
        };
        index.add(more(SAVE_AGAIN_FROM - 1..SAVE_AGAIN_FROM));
        assert!(index.ask_save_if_due());
        assert!(!index.ask_save_if_due(), "asked once");

        // While a save runs, a catch-up adds nothing (and is told so).
        {
            let _saving = index.inserting.write().unwrap();
            assert!(!index.try_add(more(SAVE_AGAIN_FROM..SAVE_AGAIN_FROM + 1)));
        }
        assert_eq!(index.len(), SAVE_AGAIN_FROM);
        assert!(index.save(dir.path(), locrit, "embed").unwrap());
        assert!(index.try_add(more(SAVE_AGAIN_FROM..2 * SAVE_AGAIN_FROM - 1)));
        assert!(!index.ask_save_if_due(), "not doubled yet");
        index.add(more(2 * SAVE_AGAIN_FROM - 1..2 * SAVE_AGAIN_FROM));
        assert!(index.ask_save_if_due(), "doubled since the save");
    }

    #[test]
    fn a_damaged_save_is_refused_without_a_panic() {
        let locrit = Uuid::now_v7();
        let saved = || {
            let dir = tempfile::tempdir().unwrap();
            let index = index_of(&random_vectors(300, 8, 3), Utc::now());
            assert!(index.save(dir.path(), locrit, "embed").unwrap());
            let file = |extension: &str| {
                let name = files_in(dir.path())
                    .into_iter()
                    .find(|name| name.ends_with(extension))
                    .unwrap();
                dir.path().join(name)
            };
            let (graph, data, list) = (file(".hnsw.graph"), file(".hnsw.data"), file(".ann"));
            (dir, graph, data, list)
        };
        let refused = |dir: &Path| {
            let error = AnnIndex::load(dir, locrit, "embed")
                .err()
                .expect("a damaged save is an error");
            error.to_string()
        };

        let (dir, _, data, _) = saved();
        let bytes = fs::read(&data).unwrap();
        fs::write(&data, &bytes[..bytes.len() / 2]).unwrap();
        assert!(refused(dir.path()).contains("size"), "a cut data file");

        // Of the right size, but nothing hnsw_rs can read (it asserts on it).
        let (dir, graph, _, _) = saved();
        let size = fs::metadata(&graph).unwrap().len() as usize;
        fs::write(&graph, vec![0xa5; size]).unwrap();
        refused(dir.path());

        let (dir, _, _, list) = saved();
        let bytes = fs::read(&list).unwrap();
        fs::write(&list, &bytes[..bytes.len() - 3]).unwrap();
        refused(dir.path());

        let (dir, _, _, list) = saved();
        let mut bytes = fs::read(&list).unwrap();
        bytes[0] = b'X';
        fs::write(&list, &bytes).unwrap();
        assert!(refused(dir.path()).contains("not a Locrit index"));
    }
}
