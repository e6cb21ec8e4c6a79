//! Path resolution beneath a directory descriptor, done once for every
//! backend (see the module docs of [`super::fs`]).
//!
//! A path is walked one component at a time from the directory it is
//! relative to, keeping the directory handles opened on the way on a stack:
//! `..` pops one (and fails with [`Errno::Perm`] at the bottom: the walk
//! never leaves the starting directory, as openat2's `RESOLVE_BENEATH`),
//! `.` and empty components are skipped, and a symbolic link met on the way
//! is replaced by its target's components (absolute targets fail with
//! [`Errno::Perm`], more than [`MAX_SYMLINK_FOLLOWS`] links with
//! [`Errno::Loop`]). The last component is followed only when asked (or
//! when the path ends with `/`), and is otherwise left for the operation.

use super::fs::{Dir, Errno, FsResult, MAX_SYMLINK_FOLLOWS};
use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Where a path led: the directory holding its last component, and that
/// component (`None` when the path names the directory itself: `.`,
/// `a/..`).
pub(crate) struct Resolved<'a> {
    base: &'a dyn Dir,
    stack: Vec<Box<dyn Dir>>,
    /// The last component.
    pub name: Option<String>,
    /// The path (or the last link's target) ended with `/`.
    pub trailing_slash: bool,
}

impl Resolved<'_> {
    /// The directory holding the last component.
    pub fn dir(&self) -> &dyn Dir {
        match self.stack.last() {
            Some(d) => &**d,
            None => self.base,
        }
    }

    /// The last component, or [`Errno::Exist`]-style `none` for paths that
    /// name a directory itself.
    pub fn name_or(&self, none: Errno) -> FsResult<&str> {
        self.name.as_deref().ok_or(none)
    }

    /// A handle to the directory the path names when it has no last
    /// component.
    pub fn take_dir(mut self) -> FsResult<Box<dyn Dir>> {
        match self.stack.pop() {
            Some(d) => Ok(d),
            None => self.base.try_clone(),
        }
    }
}

/// Checks a guest path and walks it beneath `base`; `follow` says whether
/// a symbolic link as last component is followed.
pub(crate) fn resolve<'a>(base: &'a dyn Dir, path: &str, follow: bool) -> FsResult<Resolved<'a>> {
    if path.is_empty() {
        return Err(Errno::Noent);
    }
    if path.starts_with('/') {
        return Err(Errno::Perm);
    }
    if path.contains('\0') {
        return Err(Errno::Inval);
    }
    let mut walk = Resolved {
        base,
        stack: Vec::new(),
        name: None,
        trailing_slash: path.ends_with('/'),
    };
    let mut pending: Vec<String> = Vec::new();
    push_components(&mut pending, path);
    let mut follows = 0u32;
    while let Some(comp) = pending.pop() {
        let last = pending.is_empty();
        match comp.as_str() {
            "." => continue,
            ".." => {
                walk.stack.pop().ok_or(Errno::Perm)?;
                continue;
            }
            _ => {}
        }
        if last {
            if (follow || walk.trailing_slash)
                && let Ok(target) = walk.dir().read_link(&comp)
            {
                expand(&mut pending, &mut follows, &target)?;
                if target.ends_with('/') {
                    walk.trailing_slash = true;
                }
                continue;
            }
            walk.name = Some(comp);
            return Ok(walk);
        }
        match walk.dir().open_dir(&comp) {
            Ok(d) => walk.stack.push(d),
            Err(e @ (Errno::Loop | Errno::Notdir)) => match walk.dir().read_link(&comp) {
                Ok(target) => expand(&mut pending, &mut follows, &target)?,
                Err(_) => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
    Ok(walk)
}

/// Pushes the components of `path` so that the first is popped first.
fn push_components(pending: &mut Vec<String>, path: &str) {
    for comp in path.split('/').filter(|c| !c.is_empty()).rev() {
        pending.push(comp.to_string());
    }
}

/// Replaces a symbolic link by its target.
fn expand(pending: &mut Vec<String>, follows: &mut u32, target: &str) -> FsResult<()> {
    *follows += 1;
    if *follows > MAX_SYMLINK_FOLLOWS {
        return Err(Errno::Loop);
    }
    if target.is_empty() {
        return Err(Errno::Noent);
    }
    if target.starts_with('/') {
        return Err(Errno::Perm);
    }
    if target.contains('\0') {
        return Err(Errno::Inval);
    }
    push_components(pending, target);
    Ok(())
}
