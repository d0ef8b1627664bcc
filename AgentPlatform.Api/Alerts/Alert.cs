using System.Text.Json;
using System.Text.Json.Serialization;
using AgentPlatform.Contracts.Admin;

namespace AgentPlatform.Api.Alerts;

/// <summary>
/// One alert: a rule's condition that holds for one subject (a key's 80% budget, say). It fires once
/// when the condition begins to hold and resolves once when it stops; <see cref="Fingerprint"/> says
/// which condition it is, across evaluations and replicas.
/// </summary>
public sealed record Alert
{
    public string Fingerprint { get; init; } = "";

    public string Rule { get; init; } = "";

    public string Kind { get; init; } = "";

    /// <summary><c>firing</c> or <c>resolved</c>.</summary>
    public string Status { get; init; } = AlertStatus.Firing;

    /// <summary>One line for a person: what crossed what.</summary>
    public string Summary { get; init; } = "";

    /// <summary>What the alert is about (scope, ids, names, threshold): bounded, never a key or a secret.</summary>
    public Dictionary<string, string> Labels { get; init; } = [];

    public DateTimeOffset StartsAt { get; init; }

    public DateTimeOffset? EndsAt { get; init; }
}

public static class AlertHolding
{
    /// <summary>Notes that <paramref name="rule"/>'s condition holds for <paramref name="subject"/> now: the alert <c>{rule}|{subject}</c>.</summary>
    public static void Hold(this Dictionary<string, Alert> holding, AlertRule rule, string subject, string summary, Dictionary<string, string> labels, DateTimeOffset now)
    {
        var fingerprint = $"{rule.Name}|{subject}";
        holding[fingerprint] = new Alert { Fingerprint = fingerprint, Rule = rule.Name, Kind = rule.Kind, Summary = summary, Labels = labels, StartsAt = now };
    }
}

public static class AlertStatus
{
    public const string Firing = "firing";
    public const string Resolved = "resolved";
}

/// <summary>An entry of the alert history: an alert fired or resolved, or a notification of it delivered or failed.</summary>
public sealed record AlertEvent
{
    public DateTimeOffset At { get; init; }

    /// <summary><c>fired</c>, <c>resolved</c>, <c>delivered</c> or <c>failed</c>.</summary>
    public string Event { get; init; } = "";

    public string Fingerprint { get; init; } = "";

    public string Rule { get; init; } = "";

    public string Summary { get; init; } = "";

    /// <summary>For a delivery: the webhook's name (never its URL) and how many tries it took.</summary>
    public string? Webhook { get; init; }

    public int? Attempts { get; init; }

    /// <summary>For a failed delivery: the last status or error.</summary>
    public string? Error { get; init; }
}

/// <summary>What each Api replica reports of itself every round, for rules on what only it can see.</summary>
public sealed record ReplicaReport
{
    public DateTimeOffset At { get; init; }

    /// <summary>Usage records in its spool.</summary>
    public int SpoolDepth { get; init; }

    /// <summary>Per <c>spool_growing</c> rule: since when the spool has been at or over the rule's threshold.</summary>
    public Dictionary<string, DateTimeOffset> SpoolOverSince { get; init; } = [];
}

// A field the API does not know is refused (a misspelt "thresholdsPercent" must not silently mean none).
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(Alert))]
[JsonSerializable(typeof(AlertEvent))]
[JsonSerializable(typeof(AlertRule))]
[JsonSerializable(typeof(ListOf<AlertRule>))]
[JsonSerializable(typeof(ReplicaReport))]
internal sealed partial class AlertJsonContext : JsonSerializerContext;
