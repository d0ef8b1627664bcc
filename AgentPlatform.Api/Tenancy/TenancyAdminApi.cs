using AgentPlatform.Contracts.Admin;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.ServiceDefaults.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using StackExchange.Redis;

namespace AgentPlatform.Api.Tenancy;

/// <summary>
/// <c>/admin/v1/tenants</c>, <c>/admin/v1/keys</c> and <c>/admin/v1/audit</c>: create, read, update,
/// delete or revoke, with every change in the audit log. The group this maps on requires the master key.
/// </summary>
public static class TenancyAdminApi
{
    private const int MaxBodyBytes = 64 * 1024;

    public static RouteGroupBuilder MapTenancyAdminApi(this RouteGroupBuilder admin)
    {
        admin.MapPost("/tenants", CreateTenantAsync).WithName("CreateTenant").WithSummary("Creates a tenant with its limits and budget.");
        admin.MapGet("/tenants", async (TenancyStore store) => TypedResults.Ok(ListOf.Of((await store.ListTenantsAsync()).Select(View).ToList()))).WithName("ListTenants");
        admin.MapGet("/tenants/{id}", GetTenantAsync).WithName("GetTenant");
        admin.MapPatch("/tenants/{id}", UpdateTenantAsync).WithName("UpdateTenant").WithSummary("Changes the fields given; null clears a limit.");
        admin.MapDelete("/tenants/{id}", DeleteTenantAsync).WithName("DeleteTenant").WithSummary("Deletes the tenant and revokes its keys.");
        admin.MapPost("/tenants/{id}/spend/reset", ResetTenantSpendAsync).WithName("ResetTenantSpend")
            .WithSummary("Sets the tenant's spend in its current budget period back to zero.");
        admin.MapPost("/keys/{id}/spend/reset", ResetKeySpendAsync).WithName("ResetKeySpend")
            .WithSummary("Sets the key's spend in its current budget period back to zero.");
        admin.MapGet("/spend", ReadSpendAsync).WithName("ReadSpend")
            .WithSummary("What every tenant (or, with tenantId, one tenant and its keys) has spent in its current budget period.");
        admin.MapPost("/keys", CreateKeyAsync).WithName("CreateKey").WithSummary("Creates a key; the answer holds the key itself, once.");
        admin.MapGet("/keys", ListKeysAsync).WithName("ListKeys");
        admin.MapGet("/keys/{id}", GetKeyAsync).WithName("GetKey");
        admin.MapPatch("/keys/{id}", UpdateKeyAsync).WithName("UpdateKey");
        admin.MapDelete("/keys/{id}", RevokeKeyAsync).WithName("RevokeKey").WithSummary("Revokes the key on every Api replica.");
        admin.MapGet("/audit", async (TenancyStore store, int? limit) => TypedResults.Ok(ListOf.Of(await store.ReadAuditAsync(Math.Clamp(limit ?? 100, 1, 10_000)))))
            .WithName("ReadAudit").WithSummary("Admin changes, newest first.");
        return admin;
    }

    private static async Task<Results<Created<TenantView>, OpenAIErrorResult>> CreateTenantAsync(HttpContext context, TenancyStore store)
    {
        var (input, problem) = await ReadAsync(context, new Tenant(), creating: true, takesTenantId: false);
        if (problem is not null)
        {
            return problem;
        }
        var tenant = await store.CreateTenantAsync((Tenant)input!.Value.Limits);
        return TypedResults.Created($"/admin/v1/tenants/{tenant.Id}", View(tenant));
    }

    private static async Task<Results<Ok<TenantView>, OpenAIErrorResult>> GetTenantAsync(TenancyStore store, string id) =>
        await store.GetTenantAsync(id) is { } tenant ? TypedResults.Ok(View(tenant)) : TenantNotFound(id);

    private static async Task<Results<Ok<TenantView>, OpenAIErrorResult>> UpdateTenantAsync(HttpContext context, TenancyStore store, string id)
    {
        if (await store.GetTenantAsync(id) is not { } tenant)
        {
            return TenantNotFound(id);
        }
        var (input, problem) = await ReadAsync(context, tenant, creating: false, takesTenantId: false);
        return problem ?? (Results<Ok<TenantView>, OpenAIErrorResult>)TypedResults.Ok(View(await store.UpdateTenantAsync((Tenant)input!.Value.Limits)));
    }

    private static async Task<Results<Ok<TenantDeletion>, OpenAIErrorResult>> DeleteTenantAsync(TenancyStore store, string id)
    {
        if (await store.GetTenantAsync(id) is not { } tenant)
        {
            return TenantNotFound(id);
        }
        await store.DeleteTenantAsync(tenant);
        return TypedResults.Ok(new TenantDeletion(id));
    }

    private static async Task<Results<Ok<ResetSpend>, OpenAIErrorResult>> ResetTenantSpendAsync(TenancyStore store, string id)
    {
        if (await store.GetTenantAsync(id) is not { } tenant)
        {
            return TenantNotFound(id);
        }
        await store.ResetSpendAsync("tenant", tenant, tenant.Id);
        return TypedResults.Ok(new ResetSpend(id));
    }

    private static async Task<Results<Ok<ResetSpend>, OpenAIErrorResult>> ResetKeySpendAsync(TenancyStore store, string id)
    {
        if (await store.GetKeyAsync(id) is not { } key)
        {
            return KeyNotFound(id);
        }
        await store.ResetSpendAsync("key", key, key.Id);
        return TypedResults.Ok(new ResetSpend(id));
    }

    /// <summary>
    /// Spend this period: for an owner with a budget, the counter its budget is enforced on (what requests
    /// in flight reserved included); without one there is no counter, so the ledger's charges this
    /// calendar month stand in (<c>source</c> says which).
    /// </summary>
    private static async Task<Results<Ok<ListOf<SpendView>>, OpenAIErrorResult>> ReadSpendAsync(
        TenancyStore store, IConnectionMultiplexer redis, TimeProvider timeProvider, string? tenantId)
    {
        var owners = new List<(string Scope, Limits Limits, string Id)>();
        if (tenantId is null)
        {
            owners.AddRange((await store.ListTenantsAsync()).Select(t => ("tenant", (Limits)t, t.Id)));
        }
        else if (await store.GetTenantAsync(tenantId) is { } tenant)
        {
            owners.Add(("tenant", tenant, tenant.Id));
            owners.AddRange((await store.ListKeysAsync()).Where(k => k.TenantId == tenant.Id && k.RevokedAt is null).Select(k => ("key", (Limits)k, k.Id)));
        }
        else
        {
            return TenantNotFound(tenantId);
        }
        var spend = await store.ReadSpendAsync(owners);
        var now = timeProvider.GetUtcNow();
        var month = BudgetPeriod.Current(BudgetPeriods.Monthly, now);
        var charged = owners.Any(o => o.Limits.BudgetUsd is null)
            ? await Usage.UsageLedger.CostThisMonthAsync(redis.GetDatabase(), now)
            : [];
        return TypedResults.Ok(ListOf.Of(owners.Select((owner, i) =>
        {
            var fromLedger = owner.Limits.BudgetUsd is null;
            var period = fromLedger ? month : spend[i].Period;
            return new SpendView(
                owner.Scope,
                owner.Id,
                owner.Limits.BudgetUsd,
                owner.Limits.BudgetPeriod,
                period.End is null ? null : period.Start, // all time has no start
                period.End,
                BudgetPeriod.FromNanoUsd(fromLedger ? charged.GetValueOrDefault(owner.Id) : spend[i].SpentNanoUsd),
                fromLedger ? "ledger" : "budget");
        })));
    }

    private static async Task<Results<Created<KeyView>, OpenAIErrorResult>> CreateKeyAsync(HttpContext context, TenancyStore store)
    {
        var (input, problem) = await ReadAsync(context, new VirtualKey(), creating: true, takesTenantId: true);
        if (problem is not null)
        {
            return problem;
        }
        if (!input!.Value.Change.TenantId.TryGet(out var tenantId) || await store.GetTenantAsync(tenantId) is not { } tenant)
        {
            return new OpenAIErrorResult(StatusCodes.Status400BadRequest,
                "'tenantId' must name an existing tenant (create one with POST /admin/v1/tenants).", OpenAIError.InvalidRequest, param: "tenantId");
        }
        var (key, plaintext) = await store.CreateKeyAsync(tenant, (VirtualKey)input.Value.Limits);
        return TypedResults.Created($"/admin/v1/keys/{key.Id}", View(key, plaintext));
    }

    private static async Task<Ok<ListOf<KeyView>>> ListKeysAsync(TenancyStore store, string? tenantId) =>
        TypedResults.Ok(ListOf.Of((await store.ListKeysAsync()).Where(k => tenantId is null || k.TenantId == tenantId).Select(k => View(k))));

    private static async Task<Results<Ok<KeyView>, OpenAIErrorResult>> GetKeyAsync(TenancyStore store, string id) =>
        await store.GetKeyAsync(id) is { } key ? TypedResults.Ok(View(key)) : KeyNotFound(id);

    private static async Task<Results<Ok<KeyView>, OpenAIErrorResult>> UpdateKeyAsync(HttpContext context, TenancyStore store, string id)
    {
        if (await store.GetKeyAsync(id) is not { } key)
        {
            return KeyNotFound(id);
        }
        var (input, problem) = await ReadAsync(context, key, creating: false, takesTenantId: false);
        return problem ?? (Results<Ok<KeyView>, OpenAIErrorResult>)TypedResults.Ok(View(await store.UpdateKeyAsync((VirtualKey)input!.Value.Limits)));
    }

    private static async Task<Results<Ok<KeyView>, OpenAIErrorResult>> RevokeKeyAsync(TenancyStore store, TimeProvider timeProvider, string id)
    {
        if (await store.GetKeyAsync(id) is not { } key)
        {
            return KeyNotFound(id);
        }
        var revoked = key.RevokedAt is null ? await store.UpdateKeyAsync(key with { RevokedAt = timeProvider.GetUtcNow() }, "key.revoked") : key;
        return TypedResults.Ok(View(revoked));
    }

    private static TenantView View(Tenant tenant) => new(
        tenant.Id, tenant.Name,
        tenant.Rpm, tenant.Tpm, tenant.MaxConcurrent, tenant.BudgetUsd, tenant.BudgetPeriod, tenant.Models,
        tenant.ExpiresAt, tenant.Metadata, tenant.CacheEnabled, tenant.CacheTtlSeconds,
        tenant.CreatedAt, tenant.UpdatedAt);

    /// <summary>A key as the admin API shows it: never its hash; the key itself only in the answer that created it.</summary>
    private static KeyView View(VirtualKey key, string? plaintext = null) => new(
        key.Id, plaintext, key.KeyHint, key.TenantId, key.Name,
        key.Rpm, key.Tpm, key.MaxConcurrent, key.BudgetUsd, key.BudgetPeriod, key.Models,
        key.ExpiresAt, key.Metadata, key.CacheEnabled, key.CacheTtlSeconds,
        key.CreatedAt, key.UpdatedAt, key.RevokedAt);

    /// <summary>The body's fields applied to <paramref name="current"/>, or the 400 naming every field that is wrong.</summary>
    private static async Task<((Limits Limits, LimitsChange Change)? Input, OpenAIErrorResult? Problem)> ReadAsync(
        HttpContext context, Limits current, bool creating, bool takesTenantId)
    {
        var errors = new List<string>();
        using var body = await PooledRequestBody.ReadAsync(context.Request, MaxBodyBytes, context.RequestAborted);
        var change = body is null ? null : LimitsInput.Read(body.Span, errors);
        if (body is null)
        {
            errors.Add($"The request body is larger than {MaxBodyBytes} bytes.");
        }
        var limits = change is null ? current : LimitsInput.Apply(current, change, errors, takesTenantId);
        if (creating && change is not null && !change.Name.IsPresent)
        {
            errors.Add("'name' is required.");
        }
        return errors.Count > 0
            ? (null, new OpenAIErrorResult(StatusCodes.Status400BadRequest, string.Join(" ", errors), OpenAIError.InvalidRequest))
            : ((limits, change!), null);
    }

    private static OpenAIErrorResult TenantNotFound(string id) => OpenAIErrorResult.NotFound($"No tenant has the id '{id}'.", "tenant_not_found");

    private static OpenAIErrorResult KeyNotFound(string id) => OpenAIErrorResult.NotFound($"No key has the id '{id}'.", "key_not_found");
}
