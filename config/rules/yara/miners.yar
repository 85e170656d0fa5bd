/*
 * Coin miners (XMRig and its many renamed copies, the payload of most
 * Linux cloud and server intrusions): their command lines, launch scripts
 * and config files. One word is never enough: a document that names xmrig
 * or a pool once does not match. It takes a stratum pool URL with a miner
 * option or config key, or several of XMRig's own options or config keys
 * together (XMRig's documented command-line options and config.json keys,
 * https://xmrig.com/docs/miner/command-line-options and
 * https://xmrig.com/docs/miner/config).
 */
rule Rampart_Miner_XMRig_Config : miner cryptominer linux
{
    meta:
        description = "Coin miner command line or config: a stratum pool URL with miner options, or several XMRig options or config keys"
        author = "Rampart project"
        reference = "https://xmrig.com/docs/miner/command-line-options"
        date = "2026-12-07"
        severity = "high"

    strings:
        $url = /stratum\+(tcp|ssl|tls):\/\/[a-zA-Z0-9._-]{1,128}:[0-9]{2,5}/ nocase

        $opt_donate = "--donate-level" ascii wide
        $opt_cpu_prio = "--cpu-priority" ascii wide
        $opt_max_cpu = "--max-cpu-usage" ascii wide
        $opt_hint = "--cpu-max-threads-hint" ascii wide
        $opt_nicehash = "--nicehash" ascii wide
        $opt_rx = "--randomx-mode" ascii wide
        $opt_coin = /--(coin|algo)[= ](monero|xmr|rx\/0|cn\/|randomx|kawpow|ethash)/ nocase

        $key_donate = "\"donate-level\"" ascii wide
        $key_donate_proxy = "\"donate-over-proxy\"" ascii wide
        $key_hint = "\"max-threads-hint\"" ascii wide
        $key_huge = "\"huge-pages\"" ascii wide
        $key_randomx = "\"randomx\"" ascii wide
        $key_rig = "\"rig-id\"" ascii wide
        $key_nicehash = "\"nicehash\"" ascii wide
        $key_pools = "\"pools\"" ascii wide
        $key_1gb = "\"1gb-pages\"" ascii wide

    condition:
        filesize < 32MB and
        (
            ($url and 1 of ($opt_*, $key_*)) or
            3 of ($opt_*) or
            4 of ($key_*)
        )
}
