using System.Text.Json;
using System.Text.Json.Serialization;
using AgentPlatform.Contracts.Admin;

namespace AgentPlatform.Api.Alerts;

public static class AlertHolding
{
    /// <summary>Notes that <paramref name="rule"/>'s condition holds for <paramref name="subject"/> now: the alert <c>{rule}|{subject}</c>.</summary>
    public static void Hold(this Dictionary<string, Alert> holding, AlertRule rule, string subject, string summary, Dictionary<string, string> labels, DateTimeOffset now)
    {
        var fingerprint = $"{rule.Name}|{subject}";
        holding[fingerprint] = new Alert { Fingerprint = fingerprint, Rule = rule.Name, Kind = rule.Kind, Summary = summary, Labels = labels, StartsAt = now };
    }
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
