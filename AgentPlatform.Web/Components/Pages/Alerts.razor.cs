using AgentPlatform.Web.Platform;

namespace AgentPlatform.Web.Components.Pages;

/// <summary>Alerts firing now, the rules (turned on and off here), and the history of firing, resolving and delivery.</summary>
public sealed partial class Alerts : AdminPage
{
    private const int HistoryShown = 100;

    private IReadOnlyList<AlertView>? Firing { get; set; }

    private IReadOnlyList<AlertRuleView>? Rules { get; set; }

    private IReadOnlyList<AlertEventView>? History { get; set; }

    protected override Task OnInitializedAsync() => LoadAsync();

    private Task LoadAsync() => RunAsync(async () =>
    {
        Firing = await Admin.ListFiringAlertsAsync(CancellationToken.None);
        Rules = await Admin.ListAlertRulesAsync(CancellationToken.None);
        History = await Admin.ReadAlertHistoryAsync(HistoryShown, CancellationToken.None);
    });

    private Task ToggleAsync(AlertRuleView rule) => RunAsync(async () =>
    {
        await Admin.SetAlertRuleEnabledAsync(rule.Name, !rule.Enabled, CancellationToken.None);
        Rules = await Admin.ListAlertRulesAsync(CancellationToken.None);
    });

    private static string Settings(AlertRuleView rule) =>
        rule.Settings.Count == 0 ? "defaults" : string.Join("; ", rule.Settings.Select(s => $"{s.Key} {s.Value}"));

    private static string Delivery(AlertEventView entry) => entry.Webhook is null ? ""
        : entry.Error is null ? $"{entry.Webhook}, {entry.Attempts} {(entry.Attempts == 1 ? "try" : "tries")}"
        : $"{entry.Webhook}: {entry.Error} after {entry.Attempts} tries";
}
