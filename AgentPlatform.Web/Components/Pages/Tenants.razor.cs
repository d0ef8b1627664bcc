using System.Globalization;
using AgentPlatform.Web.Platform;
using Microsoft.AspNetCore.Components.Forms;

namespace AgentPlatform.Web.Components.Pages;

/// <summary>Tenants and their keys: create, list, revoke; a new key is shown once.</summary>
public sealed partial class Tenants : AdminPage
{
    private static readonly string[] Periods = ["monthly", "weekly", "daily", "none"];

    private EditContext _tenantContext = null!;
    private EditContext _keyContext = null!;
    private string? _confirmingRevoke;

    private IReadOnlyList<TenantView>? TenantList { get; set; }

    private TenantView? Selected { get; set; }

    private IReadOnlyList<KeyView>? KeyList { get; set; }

    private CreatedKey? Created { get; set; }

    private LimitsForm NewTenant { get; set; } = new();

    private LimitsForm NewKey { get; set; } = new();

    protected override async Task OnInitializedAsync()
    {
        _tenantContext = new EditContext(NewTenant);
        _keyContext = new EditContext(NewKey);
        await RunAsync(async () => TenantList = await Admin.ListTenantsAsync(CancellationToken.None));
    }

    private Task SelectAsync(TenantView tenant) => RunAsync(async () =>
    {
        Selected = tenant;
        Created = null;
        KeyList = null;
        KeyList = await Admin.ListKeysAsync(tenant.Id, CancellationToken.None);
    });

    private Task CreateTenantAsync() => RunAsync(async () =>
    {
        if (NewTenant.Problem() is { } problem)
        {
            Error = problem;
            return;
        }
        var tenant = await Admin.CreateTenantAsync(NewTenant, CancellationToken.None);
        NewTenant = new LimitsForm();
        _tenantContext = new EditContext(NewTenant);
        TenantList = await Admin.ListTenantsAsync(CancellationToken.None);
        await SelectAsync(tenant);
    });

    private Task CreateKeyAsync() => RunAsync(async () =>
    {
        if (NewKey.Problem() is { } problem)
        {
            Error = problem;
            return;
        }
        Created = await Admin.CreateKeyAsync(Selected!.Id, NewKey, CancellationToken.None);
        NewKey = new LimitsForm();
        _keyContext = new EditContext(NewKey);
        KeyList = await Admin.ListKeysAsync(Selected.Id, CancellationToken.None);
    });

    private Task RevokeAsync(KeyView key) => RunAsync(async () =>
    {
        await Admin.RevokeKeyAsync(key.Id, CancellationToken.None);
        _confirmingRevoke = null;
        KeyList = await Admin.ListKeysAsync(key.TenantId, CancellationToken.None);
    });

    /// <summary>The operator has the key: the page and the server forget it.</summary>
    private void ForgetCreatedKey() => Created = null;

    private static string Budget(decimal? usd, string period) => usd is { } budget
        ? string.Create(CultureInfo.InvariantCulture, $"${budget:0.##} {(period == "none" ? "in all" : period)}")
        : "none";
}
