//! The smallest typst `World`: one main source, one data file, embedded fonts.

use std::sync::OnceLock;

use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};

struct Fonts {
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
}

/// Parsed once per process: the embedded fonts never change.
fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| {
        let fonts: Vec<Font> = typst_assets::fonts()
            .flat_map(|data| Font::iter(Bytes::new(data)))
            .collect();
        Fonts {
            book: LazyHash::new(FontBook::from_fonts(&fonts)),
            fonts,
        }
    })
}

fn library() -> &'static LazyHash<Library> {
    static LIB: OnceLock<LazyHash<Library>> = OnceLock::new();
    LIB.get_or_init(|| LazyHash::new(Library::default()))
}

pub struct ReportWorld {
    main: Source,
    data_id: FileId,
    data: Bytes,
}

impl ReportWorld {
    pub fn new(template: &str, data: Vec<u8>) -> Result<Self, String> {
        let id = |p: &str| -> Result<FileId, String> {
            let vpath = VirtualPath::new(p).map_err(|e| format!("{e:?}"))?;
            Ok(FileId::new(RootedPath::new(VirtualRoot::Project, vpath)))
        };
        Ok(ReportWorld {
            main: Source::new(id("/main.typ")?, template.to_owned()),
            data_id: id("/data.json")?,
            data: Bytes::new(data),
        })
    }
}

impl World for ReportWorld {
    fn library(&self) -> &LazyHash<Library> {
        library()
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &fonts().book
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(FileError::NotFound(
                id.get().vpath().get_without_slash().into(),
            ))
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.data_id {
            Ok(self.data.clone())
        } else {
            Err(FileError::NotFound(
                id.get().vpath().get_without_slash().into(),
            ))
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        fonts().fonts.get(index).cloned()
    }

    /// Reports never show "today": their dates come from the data.
    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        None
    }
}
