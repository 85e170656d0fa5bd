/*
 * ELF programs packed with UPX, the packer most Linux malware uses (IoT bots,
 * coin miners): packing hides the program's strings and code from scanners
 * and analysts. Many legitimate programs are packed too, so this is a
 * lead to look at, not proof: severity low.
 *
 * The markers come from UPX's source (github.com/upx/upx, src/p_unix.h,
 * src/p_unix.cpp, src/p_lx_elf.cpp, src/packer.cpp), which writes every
 * packed ELF the same way:
 *  - l_info, a 12-byte record right after the program headers of a packed
 *    executable: a checksum, then the magic "UPX!" (le32 0x21585055), the
 *    loader size, version and format. UPX itself decides that a file is
 *    already packed when it finds this magic there.
 *  - the PackHeader at the end of the file: "UPX!", version, format,
 *    method, level, checksums and sizes (32 bytes for UPX 3 and 4), then
 *    a 4-byte offset; so "UPX!" sits in the last 64 bytes.
 *  - the loader's identity string "$Info: This file is packed with the UPX
 *    executable packer http://upx.sf.net $" and "$Id: UPX ... the UPX Team.
 *    All Rights Reserved. $", which UPX keeps unchanged on purpose.
 * UPX writes no section headers into a packed executable (the UPX0/UPX1
 * section names are a Windows PE matter), so no section name is checked.
 *
 * Not matched: UPX with its magic bytes overwritten (a common trick of IoT
 * malware to stop `upx -d`); that needs rules for those families.
 */
rule Rampart_Packer_UPX_ELF : packer upx linux
{
    meta:
        description = "ELF file packed with UPX (l_info magic after the program headers, or the trailing PackHeader with a second UPX marker)"
        author = "Rampart project"
        reference = "https://github.com/upx/upx/blob/devel/src/p_lx_elf.cpp"
        date = "2026-12-07"
        severity = "low"

    strings:
        $magic = "UPX!"
        $info = "$Info: This file is packed with the UPX executable packer"
        $team = "the UPX Team. All Rights Reserved."

    condition:
        uint32(0) == 0x464c457f and filesize < 64MB and
        (
            // UPX's own test: l_info's magic right after the program headers
            // (64-bit: e_phoff at 0x20, e_phentsize at 0x36, e_phnum at 0x38;
            // 32-bit: e_phoff at 0x1c, e_phentsize at 0x2a, e_phnum at 0x2c).
            // The magic is little-endian whatever the ELF's byte order.
            (uint8(4) == 2 and uint8(5) == 1 and uint32(0x24) == 0 and
             uint32(uint32(0x20) + uint16(0x36) * uint16(0x38) + 4) == 0x21585055) or
            (uint8(4) == 2 and uint8(5) == 2 and uint32be(0x20) == 0 and
             uint32(uint32be(0x24) + uint16be(0x36) * uint16be(0x38) + 4) == 0x21585055) or
            (uint8(4) == 1 and uint8(5) == 1 and
             uint32(uint32(0x1c) + uint16(0x2a) * uint16(0x2c) + 4) == 0x21585055) or
            (uint8(4) == 1 and uint8(5) == 2 and
             uint32(uint32be(0x1c) + uint16be(0x2a) * uint16be(0x2c) + 4) == 0x21585055) or
            // The trailing PackHeader, with l_info near the start (a packed
            // shared library puts it further in) or UPX's identity string.
            ($magic in (filesize - 64 .. filesize) and
             ($magic in (0 .. 4096) or $info or $team))
        )
}

/*
 * Ezuri, a public crypter written in Go (github.com/guitmz/ezuri, used by
 * TeamTNT and other cloud-intrusion groups since 2020): it wraps an ELF
 * program, AES-encrypted, into a Go stub that decrypts it and runs it from
 * memory (memfd_create, then exec of /proc/self/fd/N), so the payload never
 * touches the disk in clear.
 *
 * The markers come from the stub's source (stub/main.go): its functions
 * main.runFromMemory and main.aesDec, whose names every Go binary keeps in
 * its function table (pclntab) even when stripped, as the Go runtime needs
 * them for stack traces; and its format string "/proc/self/fd/%d". All three
 * are required: each alone is ordinary. A build of the stub with the
 * functions renamed (or with an obfuscator such as garble) is not matched.
 */
rule Rampart_Packer_Ezuri_ELF : packer ezuri linux
{
    meta:
        description = "ELF built from the Ezuri crypter's Go stub (main.runFromMemory, main.aesDec and /proc/self/fd/%d together)"
        author = "Rampart project"
        reference = "https://github.com/guitmz/ezuri/blob/master/stub/main.go"
        date = "2026-12-07"
        severity = "high"

    strings:
        $run = "main.runFromMemory"
        $dec = "main.aesDec"
        $fd = "/proc/self/fd/%d"

    condition:
        uint32(0) == 0x464c457f and filesize < 64MB and all of them
}
