using System.Globalization;
using AgentPlatform.Contracts.Admin;
using AgentPlatform.Web.Platform;

namespace AgentPlatform.Web.Components.Pages;

/// <summary>
/// Alerts firing now, the rules (created, edited as JSON, turned on and off, deleted here), and the
/// history of firing, resolving and delivery.
/// </summary>
public sealed partial class Alerts : AdminPage
{
    private const int HistoryShown = 100;

    private IReadOnlyList<Alert>? Firing { get; set; }

    private IReadOnlyList<AlertRule>? Rules { get; set; }

    private IReadOnlyList<AlertEvent>? History { get; set; }

    protected override Task OnInitializedAsync() => LoadAsync();

    private Task LoadAsync() => RunAsync(async () =>
    {
        Firing = await Admin.ListFiringAlertsAsync(CancellationToken.None);
        Rules = await Admin.ListAlertRulesAsync(CancellationToken.None);
        History = await Admin.ReadAlertHistoryAsync(HistoryShown, CancellationToken.None);
    });

    private Task ToggleAsync(AlertRule rule) => RunAsync(async () =>
    {
        await Admin.SetAlertRuleEnabledAsync(rule.Name, !rule.Enabled, CancellationToken.None);
        Rules = await Admin.ListAlertRulesAsync(CancellationToken.None);
    });

    private bool _confirmingDelete;

    /// <summary>The rule open in the editor (for a new one, the name typed so far); null when closed.</summary>
    private string? EditedRule { get; set; }

    private bool IsNewRule { get; set; }

    private string NewKind { get; set; } = "error_rate";

    private string RuleJson { get; set; } = "";

    private void NewRule()
    {
        (EditedRule, IsNewRule, _confirmingDelete) = ("", true, false);
        NewKind = "error_rate";
        RuleJson = AlertRuleTemplates.ByKind[NewKind];
    }

    private void ChooseKind(Microsoft.AspNetCore.Components.ChangeEventArgs change)
    {
        NewKind = change.Value?.ToString() ?? NewKind;
        RuleJson = AlertRuleTemplates.ByKind.GetValueOrDefault(NewKind, RuleJson);
    }

    private Task EditAsync(string name) => RunAsync(async () =>
    {
        RuleJson = await Admin.GetAlertRuleJsonAsync(name, CancellationToken.None);
        (EditedRule, IsNewRule, _confirmingDelete) = (name, false, false);
    });

    private void CloseEditor() => EditedRule = null;

    private Task SaveRuleAsync() => RunAsync(async () =>
    {
        if (string.IsNullOrWhiteSpace(EditedRule))
        {
            Error = "A name is needed.";
            return;
        }
        if (IsNewRule && Rules?.Any(r => r.Name == EditedRule.Trim()) == true)
        {
            Error = $"A rule named '{EditedRule.Trim()}' exists already: edit it instead, or choose another name.";
            return;
        }
        await Admin.PutAlertRuleAsync(EditedRule.Trim(), RuleJson, CancellationToken.None);
        EditedRule = null;
        Rules = await Admin.ListAlertRulesAsync(CancellationToken.None);
    });

    private Task DeleteRuleAsync() => RunAsync(async () =>
    {
        await Admin.DeleteAlertRuleAsync(EditedRule!, CancellationToken.None);
        EditedRule = null;
        Rules = await Admin.ListAlertRulesAsync(CancellationToken.None);
    });

    /// <summary>What the rule sets beyond its name, kind and state, by the fields' JSON names; "defaults" when nothing.</summary>
    private static string Settings(AlertRule rule)
    {
        var settings = new List<string>();
        void Add(string name, IFormattable? value)
        {
            if (value is not null)
            {
                settings.Add($"{name} {value.ToString(null, CultureInfo.InvariantCulture)}");
            }
        }
        if (rule.ThresholdsPercent is [_, ..])
        {
            settings.Add($"thresholdsPercent {string.Join(", ", rule.ThresholdsPercent)}");
        }
        if (rule.Scope is not null)
        {
            settings.Add($"scope {rule.Scope}");
        }
        Add("thresholdPercent", rule.ThresholdPercent);
        Add("thresholdMs", rule.ThresholdMs);
        Add("windowSeconds", rule.WindowSeconds);
        Add("minRequests", rule.MinRequests);
        Add("forSeconds", rule.ForSeconds);
        Add("withinHours", rule.WithinHours);
        Add("thresholdRecords", rule.ThresholdRecords);
        return settings.Count == 0 ? "defaults" : string.Join("; ", settings);
    }

    private static string Delivery(AlertEvent entry) => entry.Webhook is null ? ""
        : entry.Error is null ? $"{entry.Webhook}, {entry.Attempts} {(entry.Attempts == 1 ? "try" : "tries")}"
        : $"{entry.Webhook}: {entry.Error} after {entry.Attempts} tries";
}
