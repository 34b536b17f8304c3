//! Loading a user program: an AArch64 ELF executable from the initrd, parsed with the
//! `elf` crate and copied into fresh pages of a new address space.
//!
//! Every PT_LOAD segment must be page-aligned, inside user space below the stack, and
//! never writable and executable at once; anything else is `BadProgram`.

use super::space::AddressSpace;
use abi::Error;
use elf::abi::{EM_AARCH64, ET_EXEC, PF_R, PF_W, PF_X, PT_LOAD};
use elf::endian::LittleEndian;
use elf::ElfBytes;
use mm::addr::PAGE_SIZE;
use mm::pgtable::Access;

/// Lowest address a segment may use (page 0 stays unmapped to catch null pointers).
const USER_MIN: u64 = PAGE_SIZE;
/// Segments must end below the stack's guard page.
const USER_LOAD_END: u64 = abi::USER_STACK_TOP - abi::USER_STACK_SIZE - PAGE_SIZE;

/// Load `image` into `space`; returns the entry point.
pub fn load(space: &mut AddressSpace, image: &[u8]) -> Result<u64, Error> {
    let file = ElfBytes::<LittleEndian>::minimal_parse(image).map_err(|_| Error::BadProgram)?;
    let h = &file.ehdr;
    if h.e_machine != EM_AARCH64 || h.e_type != ET_EXEC || h.class != elf::file::Class::ELF64 {
        return Err(Error::BadProgram);
    }
    let segments = file.segments().ok_or(Error::BadProgram)?;
    let mut loaded = 0;
    for ph in segments
        .iter()
        .filter(|p| p.p_type == PT_LOAD && p.p_memsz > 0)
    {
        let (va, memsz, filesz, off) = (ph.p_vaddr, ph.p_memsz, ph.p_filesz, ph.p_offset);
        let end = va.checked_add(memsz).ok_or(Error::BadProgram)?;
        let file_end = off.checked_add(filesz).ok_or(Error::BadProgram)?;
        if va % PAGE_SIZE != 0 || va < USER_MIN || end > USER_LOAD_END || filesz > memsz {
            return Err(Error::BadProgram);
        }
        if file_end > image.len() as u64 {
            return Err(Error::BadProgram);
        }
        let access = match (
            ph.p_flags & PF_R != 0,
            ph.p_flags & PF_W != 0,
            ph.p_flags & PF_X != 0,
        ) {
            (_, true, true) => return Err(Error::BadProgram), // W^X
            (_, true, false) => Access::UserReadWrite,
            (_, false, true) => Access::UserReadExec,
            (true, false, false) => Access::UserRead,
            (false, false, false) => return Err(Error::BadProgram),
        };
        let size = (end - va).next_multiple_of(PAGE_SIZE);
        space.map_new(va, size, access)?;
        space.write_unchecked_access(va, &image[off as usize..file_end as usize])?;
        loaded += 1;
    }
    let entry = h.e_entry;
    if loaded == 0
        || space
            .translate_user(entry, super::space::UserAccess::Read)
            .is_err()
    {
        return Err(Error::BadProgram);
    }
    Ok(entry)
}
