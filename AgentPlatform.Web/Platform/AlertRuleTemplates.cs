namespace AgentPlatform.Web.Platform;

/// <summary>
/// A starting point for each kind of alert rule, with its fields at their defaults, for the console's
/// rule editor: the admin API checks what the operator makes of it and says what is wrong.
/// </summary>
public static class AlertRuleTemplates
{
    public static readonly IReadOnlyDictionary<string, string> ByKind = new Dictionary<string, string>
    {
        ["budget"] = """{ "kind": "budget", "thresholdsPercent": [50, 80, 100] }""",
        ["burn_rate"] = """{ "kind": "burn_rate", "windowSeconds": 3600, "withinHours": 24 }""",
        ["error_rate"] = """{ "kind": "error_rate", "scope": "deployment", "thresholdPercent": 5, "windowSeconds": 300, "minRequests": 10 }""",
        ["latency_p99"] = """{ "kind": "latency_p99", "scope": "deployment", "thresholdMs": 5000, "windowSeconds": 300, "minRequests": 10 }""",
        ["breaker_open"] = """{ "kind": "breaker_open", "forSeconds": 60 }""",
        ["redis_unreachable"] = """{ "kind": "redis_unreachable", "forSeconds": 30 }""",
        ["spool_growing"] = """{ "kind": "spool_growing", "thresholdRecords": 1000, "forSeconds": 60 }""",
    };
}
