/*
 * The EICAR anti-virus test file: a harmless 68-byte string that every
 * scanner agrees to flag, so the detection path can be tried end to end.
 *
 * The string is split in two below on purpose: a file holding it whole
 * would itself be flagged by anti-virus software (this rule file included).
 * EICAR's definition: the file starts with the 68 characters, which may be
 * followed by white space only, and is at most 128 bytes long. The same
 * string inside a longer document is not the test file and does not match.
 */
rule Rampart_EICAR_Test_File : test eicar
{
    meta:
        description = "EICAR anti-virus test file (68-byte string at the start, white space after it only, at most 128 bytes)"
        author = "Rampart project"
        reference = "https://www.eicar.org/download-anti-malware-testfile/"
        date = "2026-12-07"
        severity = "low"

    strings:
        $head = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR"
        $tail = "-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

    condition:
        $head at 0 and $tail at 33 and filesize <= 128 and
        (filesize == 68 or
         for all i in (68 .. filesize - 1) :
            (uint8(i) == 0x20 or uint8(i) == 0x09 or uint8(i) == 0x0a or
             uint8(i) == 0x0d or uint8(i) == 0x1a))
}
