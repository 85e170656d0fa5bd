/*
 * Web shells: a page on a web server that runs what the request says.
 * Each rule wants code and request input joined in one expression (the
 * input handed straight to eval, assert or a command runner); the same
 * functions used on constants, or request input used elsewhere, do not
 * match. Obfuscated web shells that build the function name at run time
 * are not matched by these.
 */
rule Rampart_Webshell_PHP_Request_Exec : webshell php
{
    meta:
        description = "PHP web shell: eval/assert of request input (optionally through base64_decode, gzinflate and the like), or system/passthru/shell_exec/exec/popen of request input"
        author = "Rampart project"
        reference = "https://www.php.net/manual/en/function.eval.php"
        date = "2026-12-07"
        severity = "critical"

    strings:
        // eval($_POST['x']) or eval(base64_decode(gzinflate($_REQUEST['x']))).
        $eval = /(eval|assert)\s{0,8}\(\s{0,8}@?\s{0,8}((base64_decode|gzinflate|gzuncompress|gzdecode|str_rot13|stripslashes|urldecode|rawurldecode)\s{0,8}\(\s{0,8}@?\s{0,8}){0,3}\$_(GET|POST|REQUEST|COOKIE)\s{0,8}\[/ nocase
        // system($_GET['c']), also with @ and through a decoder.
        $exec = /(system|passthru|shell_exec|popen|proc_open|pcntl_exec|[^_a-z]exec)\s{0,8}\(\s{0,8}@?\s{0,8}((base64_decode|stripslashes|urldecode|rawurldecode)\s{0,8}\(\s{0,8}){0,2}\$_(GET|POST|REQUEST|COOKIE)\s{0,8}\[/ nocase

    condition:
        filesize < 4MB and any of them
}

rule Rampart_Webshell_JSP_Request_Exec : webshell jsp java
{
    meta:
        description = "JSP web shell: Runtime.getRuntime().exec() or new ProcessBuilder() of request.getParameter()"
        author = "Rampart project"
        reference = "https://docs.oracle.com/javase/8/docs/api/java/lang/Runtime.html#exec-java.lang.String-"
        date = "2026-12-07"
        severity = "critical"

    strings:
        $runtime = /Runtime\s{0,8}\.\s{0,8}getRuntime\s{0,8}\(\s{0,8}\)\s{0,8}\.\s{0,8}exec\s{0,8}\(\s{0,8}request\s{0,8}\.\s{0,8}getParameter\s{0,8}\(/
        $builder = /new\s{1,8}ProcessBuilder\s{0,8}\(\s{0,8}(new\s{1,8}String\s{0,8}\[\s{0,8}\]\s{0,8}\{[^}]{0,64})?request\s{0,8}\.\s{0,8}getParameter\s{0,8}\(/

    condition:
        filesize < 4MB and any of them
}
