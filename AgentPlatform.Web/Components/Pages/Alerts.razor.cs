using AgentPlatform.Web.Platform;
using Microsoft.AspNetCore.Components;

namespace AgentPlatform.Web.Components.Pages;

/// <summary>Alerts firing now, the rules (turned on and off here), and the history of firing, resolving and delivery.</summary>
public sealed partial class Alerts
{
    private const int HistoryShown = 100;

    [Inject]
    private AdminApiClient Admin { get; set; } = null!;

    private IReadOnlyList<AlertView>? Firing { get; set; }

    private IReadOnlyList<AlertRuleView>? Rules { get; set; }

    private IReadOnlyList<AlertEventView>? History { get; set; }

    private string? Error { get; set; }

    protected override Task OnInitializedAsync() => LoadAsync();

    private async Task LoadAsync()
    {
        try
        {
            Firing = await Admin.ListFiringAlertsAsync(CancellationToken.None);
            Rules = await Admin.ListAlertRulesAsync(CancellationToken.None);
            History = await Admin.ReadAlertHistoryAsync(HistoryShown, CancellationToken.None);
        }
        catch (AdminApiException exception)
        {
            Error = exception.Message;
        }
    }

    private async Task ToggleAsync(AlertRuleView rule)
    {
        Error = null;
        try
        {
            await Admin.SetAlertRuleEnabledAsync(rule.Name, !rule.Enabled, CancellationToken.None);
            Rules = await Admin.ListAlertRulesAsync(CancellationToken.None);
        }
        catch (AdminApiException exception)
        {
            Error = exception.Message;
        }
    }

    private static string Settings(AlertRuleView rule) =>
        rule.Settings.Count == 0 ? "defaults" : string.Join("; ", rule.Settings.Select(s => $"{s.Key} {s.Value}"));

    private static string Delivery(AlertEventView entry) => entry.Webhook is null ? ""
        : entry.Error is null ? $"{entry.Webhook}, {entry.Attempts} {(entry.Attempts == 1 ? "try" : "tries")}"
        : $"{entry.Webhook}: {entry.Error} after {entry.Attempts} tries";
}
