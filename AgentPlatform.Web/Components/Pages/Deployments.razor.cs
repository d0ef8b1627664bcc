using AgentPlatform.Contracts.Admin;

namespace AgentPlatform.Web.Components.Pages;

/// <summary>
/// Every model group and deployment with its live state (breaker, in flight, latency, errors, capacity,
/// last error), and draining by hand: taken out of rotation on every Router replica until put back.
/// </summary>
public sealed partial class Deployments : AdminPage
{
    private static readonly TimeSpan RefreshPeriod = TimeSpan.FromSeconds(2);

    private DeploymentView? _confirmingDrain;

    private IReadOnlyList<IGrouping<string, DeploymentView>>? Groups { get; set; }

    private string DrainReason { get; set; } = "";

    protected override Task OnInitializedAsync() => RunAsync(() => ReadAsync(Closed));

    protected override void OnAfterRender(bool firstRender)
    {
        if (firstRender && RendererInfo.IsInteractive)
        {
            RefreshEvery(RefreshPeriod, ReadAsync);
        }
    }

    private async Task ReadAsync(CancellationToken cancellationToken)
    {
        var deployments = await Admin.ListDeploymentsAsync(cancellationToken);
        Groups = deployments.GroupBy(d => d.ModelGroup).ToList();
        // The row being confirmed is a new object after each read: follow it by name.
        _confirmingDrain = _confirmingDrain is { } confirming
            ? deployments.FirstOrDefault(d => d.ModelGroup == confirming.ModelGroup && d.Name == confirming.Name && d.Drained is null)
            : null;
    }

    private void AskToDrain(DeploymentView deployment)
    {
        _confirmingDrain = deployment;
        DrainReason = "";
    }

    private Task DrainAsync(DeploymentView deployment) => RunAsync(async () =>
    {
        await Admin.DrainAsync(deployment, DrainReason, Closed);
        _confirmingDrain = null;
        await ReadAsync(Closed);
    });

    private Task UndrainAsync(DeploymentView deployment) => RunAsync(async () =>
    {
        await Admin.UndrainAsync(deployment, Closed);
        await ReadAsync(Closed);
    });

    private static string Capacity(CapacityView capacity)
    {
        var parts = new List<string>(2);
        if (capacity.Rpm is { } rpm)
        {
            parts.Add($"{capacity.RpmInUse ?? 0:N0} / {rpm:N0} rpm");
        }
        if (capacity.Tpm is { } tpm)
        {
            parts.Add($"{capacity.TpmInUse ?? 0:N0} / {tpm:N0} tpm");
        }
        return parts.Count == 0 ? "unlimited" : string.Join(", ", parts);
    }
}
