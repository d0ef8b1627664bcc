using AgentPlatform.Contracts.Admin;
using AgentPlatform.Web.Platform;
using Microsoft.AspNetCore.Components;

namespace AgentPlatform.Web.Components.Pages;

/// <summary>
/// Usage records by tenant, key, model group and period, with totals, a chart of cost and requests per
/// hour, and their export as CSV or JSON Lines.
/// </summary>
public sealed partial class Usage : AdminPage
{
    private const int Limit = 500;

    [Inject]
    private TimeProvider Time { get; set; } = null!;

    private IReadOnlyList<TenantView> TenantList { get; set; } = [];

    private string TenantId { get; set; } = "";

    private string Model { get; set; } = "";

    private IReadOnlyList<KeyView> KeyList { get; set; } = [];

    private string KeyId { get; set; } = "";

    private IReadOnlyList<AgentPlatform.Web.Overview.Series>? Spend { get; set; }

    private int Hours { get; set; } = 24;

    private IReadOnlyList<UsageRecordView>? Records { get; set; }

    private bool HasMore { get; set; }

    private UsageQuery Query => new(TenantId, Model, Hours, KeyId);

    protected override async Task OnInitializedAsync()
    {
        await RunAsync(async () => TenantList = await Admin.ListTenantsAsync(CancellationToken.None));
        await LoadAsync();
    }

    private Task LoadAsync() => RunAsync(async () =>
    {
        var now = Time.GetUtcNow();
        (Records, HasMore) = await Admin.ReadUsageAsync(Query, Limit, now, Closed);
        // The chart is drawn from the hourly roll-ups: every request counts there, not only the table's first 500.
        Spend = AgentPlatform.Web.Overview.OverviewSeries.SpendByHour(await Admin.ReadHourlySummaryAsync(Query, now, Closed), now.AddHours(-Hours), now);
    });

    private Task ReadKeysAsync() => RunAsync(async () =>
    {
        KeyId = "";
        KeyList = string.IsNullOrEmpty(TenantId) ? [] : await Admin.ListKeysAsync(TenantId, Closed);
    });

    /// <summary>The console's export of the same filter (it streams the admin API's export with the server's key).</summary>
    private string ExportUrl(string format) => $"export/usage?format={format}&{Query.QueryString(Time.GetUtcNow())}";

    private string Percentile(double share)
    {
        var sorted = Records!.Select(r => r.LatencyMs).Order().ToList();
        return sorted[(int)Math.Min(sorted.Count - 1, Math.Floor(share * sorted.Count))].ToString("0.#", System.Globalization.CultureInfo.InvariantCulture);
    }
}
