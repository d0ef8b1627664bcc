using System.Globalization;
using AgentPlatform.Contracts.Admin;

namespace AgentPlatform.Web.Components.Pages;

/// <summary>
/// The platform at a glance, read again every two seconds: traffic, errors, latency and overhead,
/// tokens, cost and cache hits over the last hour, day or week; who spends most; what is firing.
/// </summary>
public sealed partial class Overview : AdminPage
{
    private static readonly TimeSpan RefreshPeriod = TimeSpan.FromSeconds(2);

    private static readonly (string Window, string Label)[] Windows = [("hour", "Last hour"), ("day", "Last day"), ("week", "Last week")];

    private readonly Dictionary<string, string> _tenantNames = [];
    private readonly Dictionary<string, string> _keyNames = [];

    private string Window { get; set; } = "hour";

    private TimelineView? Timeline { get; set; }

    private IReadOnlyList<Alert>? Firing { get; set; }

    protected override Task OnInitializedAsync() => RunAsync(() => ReadAsync(Closed));

    protected override void OnAfterRender(bool firstRender)
    {
        if (firstRender && RendererInfo.IsInteractive)
        {
            RefreshEvery(RefreshPeriod, ReadAsync);
        }
    }

    private Task ShowAsync(string window)
    {
        Window = window;
        return RunAsync(() => ReadAsync(Closed));
    }

    private async Task ReadAsync(CancellationToken cancellationToken)
    {
        var timeline = Admin.ReadTimelineAsync(Window, cancellationToken);
        var firing = Admin.ListFiringAlertsAsync(cancellationToken);
        Timeline = await timeline;
        Firing = await firing;
        // Names for the ids the ledger keeps, read again only when one is new to the page.
        if (Timeline.Top.Tenants.Any(t => !_tenantNames.ContainsKey(t.Id)))
        {
            foreach (var tenant in await Admin.ListTenantsAsync(cancellationToken))
            {
                _tenantNames[tenant.Id] = tenant.Name;
            }
        }
        if (Timeline.Top.Keys.Any(k => !_keyNames.ContainsKey(k.Id)))
        {
            foreach (var key in await Admin.ListAllKeysAsync(cancellationToken))
            {
                _keyNames[key.Id] = $"{key.Name} ({key.KeyHint})";
            }
        }
    }

    private string NameOf(string kind, string id) => kind switch
    {
        "tenants" => _tenantNames.GetValueOrDefault(id, id),
        "keys" => _keyNames.GetValueOrDefault(id, id),
        _ => id,
    };

    private string Rate(long count)
    {
        var perSecond = Timeline is null ? 0 : count / (Timeline.Points.Count * (double)Timeline.StepSeconds);
        return perSecond is > 0 and < 0.01 ? "< 0.01" : perSecond.ToString("0.##", CultureInfo.InvariantCulture);
    }

    private static string Percent(double? share) => share is { } value ? value.ToString("P1", CultureInfo.InvariantCulture) : "—";

}
