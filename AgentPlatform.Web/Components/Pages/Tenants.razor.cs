using AgentPlatform.Contracts.Admin;
using AgentPlatform.Web.Platform;
using Microsoft.AspNetCore.Components.Forms;

namespace AgentPlatform.Web.Components.Pages;

/// <summary>
/// Tenants and their keys: create, edit limits and budgets, see what each spent this period, revoke;
/// a new key is shown once.
/// </summary>
public sealed partial class Tenants : AdminPage
{
    private EditContext _tenantContext = null!;
    private EditContext _keyContext = null!;
    private EditContext _editContext = null!;
    private readonly Dictionary<string, decimal> _spent = [];
    private string? _confirmingRevoke;

    private IReadOnlyList<TenantView>? TenantList { get; set; }

    private TenantView? Selected { get; set; }

    private IReadOnlyList<KeyView>? KeyList { get; set; }

    private CreatedKey? Created { get; set; }

    private LimitsForm NewTenant { get; set; } = new();

    private LimitsForm NewKey { get; set; } = new();

    /// <summary>The tenant or key being edited: its scope, id and name.</summary>
    private (string Scope, string Id, string Name)? Editing { get; set; }

    private LimitsForm EditedLimits { get; set; } = new();

    protected override async Task OnInitializedAsync()
    {
        _tenantContext = new EditContext(NewTenant);
        _keyContext = new EditContext(NewKey);
        await RunAsync(ReadTenantsAsync);
    }

    private async Task ReadTenantsAsync()
    {
        TenantList = await Admin.ListTenantsAsync(Closed);
        await ReadSpendAsync(tenantId: null);
    }

    private async Task ReadKeysAsync(string tenantId)
    {
        KeyList = await Admin.ListKeysAsync(tenantId, Closed);
        await ReadSpendAsync(tenantId);
    }

    private async Task ReadSpendAsync(string? tenantId)
    {
        foreach (var spend in await Admin.ReadSpendAsync(tenantId, Closed))
        {
            _spent[spend.Id] = spend.SpentUsd;
        }
    }

    private decimal SpentBy(string id) => _spent.GetValueOrDefault(id);

    private void Edit(TenantView tenant) => StartEditing(("tenant", tenant.Id, tenant.Name), LimitsForm.From(tenant.Name, tenant.Rpm, tenant.BudgetUsd, tenant.BudgetPeriod));

    private void Edit(KeyView key) => StartEditing(("key", key.Id, key.Name), LimitsForm.From(key.Name, key.Rpm, key.BudgetUsd, key.BudgetPeriod));

    private void StartEditing((string Scope, string Id, string Name) target, LimitsForm form)
    {
        Editing = target;
        EditedLimits = form;
        _editContext = new EditContext(EditedLimits);
    }

    private void CancelEdit() => Editing = null;

    private Task SaveEditAsync() => RunAsync(async () =>
    {
        if (EditedLimits.Problem() is { } problem)
        {
            Error = problem;
            return;
        }
        var (scope, id, _) = Editing!.Value;
        if (scope == "tenant")
        {
            var tenant = await Admin.UpdateTenantAsync(id, EditedLimits, Closed);
            if (Selected?.Id == tenant.Id)
            {
                Selected = tenant;
            }
            await ReadTenantsAsync();
        }
        else
        {
            await Admin.UpdateKeyAsync(id, EditedLimits, Closed);
            await ReadKeysAsync(Selected!.Id);
        }
        Editing = null;
    });

    private Task SelectAsync(TenantView tenant) => RunAsync(async () =>
    {
        Selected = tenant;
        Created = null;
        KeyList = null;
        Editing = Editing is { Scope: "key" } ? null : Editing;
        await ReadKeysAsync(tenant.Id);
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
        await ReadTenantsAsync();
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
        await ReadKeysAsync(Selected.Id);
    });

    private Task RevokeAsync(KeyView key) => RunAsync(async () =>
    {
        await Admin.RevokeKeyAsync(key.Id, CancellationToken.None);
        _confirmingRevoke = null;
        await ReadKeysAsync(key.TenantId);
    });

    /// <summary>The operator has the key: the page and the server forget it.</summary>
    private void ForgetCreatedKey() => Created = null;

}
