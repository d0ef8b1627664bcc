namespace AgentPlatform.Api.Alerts;

/// <summary>An alert rule, as configured and as the admin API reads and writes it.</summary>
public sealed record AlertRule
{
    /// <summary>Unique; the rule's id in the admin API.</summary>
    public string Name { get; init; } = "";

    /// <summary>What it watches: see <see cref="AlertKinds"/>.</summary>
    public string Kind { get; init; } = AlertKinds.Budget;

    public bool Enabled { get; init; } = true;

    /// <summary>For <c>budget</c>: the shares of a budget (percent) whose crossing fires, each its own alert.</summary>
    public List<int> ThresholdsPercent { get; init; } = [];

    /// <summary>The problems of a rule (empty when it is valid), each naming its field.</summary>
    public IEnumerable<string> Problems()
    {
        if (string.IsNullOrWhiteSpace(Name) || Name.Length > 100 || Name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            yield return "name must be 1-100 letters, digits, '-', '_' or '.'.";
        }
        if (!AlertKinds.All.Contains(Kind))
        {
            yield return $"kind must be one of: {string.Join(", ", AlertKinds.All)}.";
        }
        if (Kind == AlertKinds.Budget && (ThresholdsPercent.Count == 0 || ThresholdsPercent.Any(t => t is < 1 or > 1000)))
        {
            yield return "thresholdsPercent must list one or more percentages between 1 and 1000.";
        }
    }
}

public static class AlertKinds
{
    /// <summary>A key's or tenant's spend this period crossed a share of its budget.</summary>
    public const string Budget = "budget";

    public static readonly string[] All = [Budget];
}
