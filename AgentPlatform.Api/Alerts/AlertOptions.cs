using System.ComponentModel.DataAnnotations;
using AgentPlatform.Contracts.Admin;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Alerts;

/// <summary>Alerting (section <c>Alerts</c>): how often rules are evaluated, where notifications go, and the rules to start with.</summary>
public sealed class AlertOptions
{
    public const string SectionName = "Alerts";

    public bool Enabled { get; set; } = true;

    /// <summary>How often the evaluating replica checks every rule.</summary>
    [Range(0.1, 3600, ErrorMessage = "Alerts:EvaluationIntervalSeconds must be between 0.1 and 3600.")]
    public double EvaluationIntervalSeconds { get; set; } = 15;

    /// <summary>Notification receivers. Their URLs are secrets (a Slack webhook URL is its own credential): configuration only, never logged or listed.</summary>
    [ValidateEnumeratedItems]
    public List<WebhookOptions> Webhooks { get; set; } = [];

    /// <summary>
    /// Rules written to Redis at start-up when no rule of the same name is there yet; the admin API
    /// edits them from then on (<c>/admin/v1/alerts/rules</c>). Without any, a budget rule at 50%, 80%
    /// and 100% is written.
    /// </summary>
    public List<AlertRule> Rules { get; set; } = [];

    /// <summary>Tries per notification and webhook before it is recorded as failed (backoff doubling from <see cref="DeliveryBaseDelayMs"/>).</summary>
    [Range(1, 20, ErrorMessage = "Alerts:DeliveryAttempts must be between 1 and 20.")]
    public int DeliveryAttempts { get; set; } = 6;

    [Range(10, 60_000, ErrorMessage = "Alerts:DeliveryBaseDelayMs must be between 10 and 60000.")]
    public int DeliveryBaseDelayMs { get; set; } = 1000;

    /// <summary>Entries of alert history kept (fired, resolved, delivered, failed), newest first.</summary>
    [Range(100, 1_000_000, ErrorMessage = "Alerts:HistoryLimit must be between 100 and 1000000.")]
    public int HistoryLimit { get; set; } = 10_000;

    public TimeSpan EvaluationInterval => TimeSpan.FromSeconds(EvaluationIntervalSeconds);
}

public sealed class WebhookOptions
{
    [Required(ErrorMessage = "Alerts:Webhooks:*:Name is required.")]
    public string Name { get; set; } = "";

    [Required(ErrorMessage = "Alerts:Webhooks:*:Url is required.")]
    [Url(ErrorMessage = "Alerts:Webhooks:*:Url must be an http(s) URL.")]
    public string Url { get; set; } = "";

    /// <summary><c>json</c> (the alert as JSON) or <c>slack</c> (Slack's incoming-webhook message).</summary>
    [RegularExpression("^(json|slack)$", ErrorMessage = "Alerts:Webhooks:*:Format must be json or slack.")]
    public string Format { get; set; } = "json";
}

/// <summary>Each configured rule must be valid and named once.</summary>
internal sealed class AlertRulesValidator : IValidateOptions<AlertOptions>
{
    public ValidateOptionsResult Validate(string? name, AlertOptions options)
    {
        var problems = options.Rules.SelectMany((rule, i) => rule.Problems().Select(p => $"Alerts:Rules:{i}: {p}")).ToList();
        problems.AddRange(options.Rules.GroupBy(r => r.Name, StringComparer.Ordinal).Where(g => g.Count() > 1)
            .Select(g => $"Alerts:Rules: the name '{g.Key}' is used more than once."));
        problems.AddRange(options.Webhooks.GroupBy(w => w.Name, StringComparer.Ordinal).Where(g => g.Count() > 1)
            .Select(g => $"Alerts:Webhooks: the name '{g.Key}' is used more than once."));
        return problems.Count > 0 ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
    }
}
