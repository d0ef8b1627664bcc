using AgentPlatform.Web.Platform;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Web.Components.Pages;

/// <summary>A request id in, its usage record out — and a link to its trace in the dashboard when one is configured.</summary>
public sealed partial class RequestLookup : AdminPage
{
    private string _searched = "";

    [Inject]
    private IOptions<ConsoleOptions> Options { get; set; } = null!;

    /// <summary>From <c>?id=</c>, so a lookup can be linked to (the playground does).</summary>
    [SupplyParameterFromQuery(Name = "id")]
    private string? IdFromQuery { get; set; }

    private string RequestId { get; set; } = "";

    private IReadOnlyList<UsageRecordView>? Found { get; set; }

    protected override Task OnInitializedAsync()
    {
        if (string.IsNullOrWhiteSpace(IdFromQuery))
        {
            return Task.CompletedTask;
        }
        RequestId = IdFromQuery;
        return FindAsync();
    }

    private Task FindAsync() => RunAsync(async () =>
    {
        Found = null;
        if (string.IsNullOrWhiteSpace(RequestId))
        {
            Error = "Paste a request id first.";
            return;
        }
        _searched = RequestId.Trim();
        Found = await Admin.FindRequestAsync(_searched, Closed);
    });

    private string? TraceUrl(string traceId) =>
        string.IsNullOrEmpty(Options.Value.DashboardUrl) ? null
        : $"{Options.Value.DashboardUrl.TrimEnd('/')}/traces/detail/{Uri.EscapeDataString(traceId)}";
}
