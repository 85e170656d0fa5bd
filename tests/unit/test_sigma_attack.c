/*
 * tests/unit/test_sigma_attack.c - detector_sigma's ATT&CK ids from Sigma
 * tags (plugins/detector_sigma/attack.c): every Enterprise tactic name in
 * both spellings and any case, techniques and sub-techniques, and the tags
 * that are neither.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "attack.h"

#include <string.h>

static void test_tactics(void **state)
{
    (void)state;
    /* The 14 Enterprise tactics with their ids, as the matrix lists them. */
    static const struct {
        const char *tag, *id, *name;
    } want[] = {
        {"attack.reconnaissance", "TA0043", "Reconnaissance"},
        {"attack.resource-development", "TA0042", "Resource Development"},
        {"attack.initial-access", "TA0001", "Initial Access"},
        {"attack.execution", "TA0002", "Execution"},
        {"attack.persistence", "TA0003", "Persistence"},
        {"attack.privilege-escalation", "TA0004", "Privilege Escalation"},
        {"attack.defense-evasion", "TA0005", "Defense Evasion"},
        {"attack.credential-access", "TA0006", "Credential Access"},
        {"attack.discovery", "TA0007", "Discovery"},
        {"attack.lateral-movement", "TA0008", "Lateral Movement"},
        {"attack.collection", "TA0009", "Collection"},
        {"attack.command-and-control", "TA0011", "Command and Control"},
        {"attack.exfiltration", "TA0010", "Exfiltration"},
        {"attack.impact", "TA0040", "Impact"},
    };
    assert_int_equal(sizeof want / sizeof want[0], DS_TACTIC_COUNT);
    for (size_t i = 0; i < DS_TACTIC_COUNT; i++) {
        const struct ds_tactic *t = ds_attack_tactic(want[i].tag);
        assert_non_null(t);
        assert_string_equal(t->id, want[i].id);
        assert_string_equal(t->name, want[i].name);
        assert_ptr_equal(ds_attack_tactic_at(i), t);
    }
    assert_null(ds_attack_tactic_at(DS_TACTIC_COUNT));
    /* Sigma 1.x spelling and any case. */
    assert_string_equal(ds_attack_tactic("attack.defense_evasion")->id, "TA0005");
    assert_string_equal(ds_attack_tactic("ATTACK.Command_And_Control")->id, "TA0011");
    assert_string_equal(ds_attack_tactic("Attack.Execution")->id, "TA0002");
    /* Not tactics. */
    assert_null(ds_attack_tactic("attack.executio"));
    assert_null(ds_attack_tactic("attack.executions"));
    assert_null(ds_attack_tactic("execution"));
    assert_null(ds_attack_tactic("cve.execution"));
    assert_null(ds_attack_tactic("attack.t1059"));
    assert_null(ds_attack_tactic("attack."));
    assert_null(ds_attack_tactic(""));
    assert_null(ds_attack_tactic(NULL));
    assert_null(ds_attack_tactic("attack.defense--evasion"));
}

static void test_techniques(void **state)
{
    (void)state;
    char buf[16];
    assert_int_equal(ds_attack_technique("attack.t1059", buf, sizeof buf), 1);
    assert_string_equal(buf, "T1059");
    assert_int_equal(ds_attack_technique("attack.t1059.004", buf, sizeof buf), 1);
    assert_string_equal(buf, "T1059.004");
    assert_int_equal(ds_attack_technique("ATTACK.T1548.001", buf, sizeof buf), 1);
    assert_string_equal(buf, "T1548.001");
    /* Not techniques: groups, software, other namespaces, malformed ids. */
    memcpy(buf, "unchanged", 10);
    static const char *const no[] = {"attack.g0032",
                                     "attack.s0002",
                                     "attack.execution",
                                     "cve.2021-4034",
                                     "attack.t105",
                                     "attack.t10599",
                                     "attack.t1059.04",
                                     "attack.t1059.0041",
                                     "attack.t1059.",
                                     "attack.t1059x",
                                     "t1059",
                                     "attack.ta0002",
                                     "attack.t1059.00a",
                                     ""};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        assert_int_equal(ds_attack_technique(no[i], buf, sizeof buf), 0);
        assert_string_equal(buf, "unchanged");
    }
    assert_int_equal(ds_attack_technique(NULL, buf, sizeof buf), 0);
    /* A buffer too small for a sub-technique is refused, not overrun. */
    assert_int_equal(ds_attack_technique("attack.t1059.004", buf, 9), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tactics),
        cmocka_unit_test(test_techniques),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
