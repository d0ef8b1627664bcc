using System.Text.Json.Nodes;
using AgentPlatform.Contracts.Admin;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.ServiceDefaults.Http;
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
        admin.MapGet("/tenants", async (TenancyStore store) => TypedResults.Ok(ListOf.Of(await store.ListTenantsAsync()))).WithName("ListTenants");
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

    private static async Task CreateTenantAsync(HttpContext context, TenancyStore store)
    {
        if (await ReadAsync(context, new Tenant(), requireName: true, otherFields: []) is { } limits)
        {
            await WriteAsync(context, StatusCodes.Status201Created, await store.CreateTenantAsync((Tenant)limits.Limits));
        }
    }

    private static async Task GetTenantAsync(HttpContext context, TenancyStore store, string id)
    {
        if (await FindTenantAsync(context, store, id) is { } tenant)
        {
            await WriteAsync(context, StatusCodes.Status200OK, tenant);
        }
    }

    private static async Task UpdateTenantAsync(HttpContext context, TenancyStore store, string id)
    {
        if (await FindTenantAsync(context, store, id) is { } tenant
            && await ReadAsync(context, tenant, requireName: false, otherFields: []) is { } update)
        {
            await WriteAsync(context, StatusCodes.Status200OK, await store.UpdateTenantAsync((Tenant)update.Limits));
        }
    }

    private static async Task DeleteTenantAsync(HttpContext context, TenancyStore store, string id)
    {
        if (await FindTenantAsync(context, store, id) is { } tenant)
        {
            await store.DeleteTenantAsync(tenant);
            await WriteAsync(context, StatusCodes.Status200OK, new { id, deleted = true });
        }
    }

    private static async Task ResetTenantSpendAsync(HttpContext context, TenancyStore store, string id)
    {
        if (await FindTenantAsync(context, store, id) is { } tenant)
        {
            await store.ResetSpendAsync("tenant", tenant, tenant.Id);
            await WriteAsync(context, StatusCodes.Status200OK, new { id, spendReset = true });
        }
    }

    private static async Task ResetKeySpendAsync(HttpContext context, TenancyStore store, string id)
    {
        if (await FindKeyAsync(context, store, id) is { } key)
        {
            await store.ResetSpendAsync("key", key, key.Id);
            await WriteAsync(context, StatusCodes.Status200OK, new { id, spendReset = true });
        }
    }

    /// <summary>
    /// Spend this period: for an owner with a budget, the counter its budget is enforced on (what requests
    /// in flight reserved included); without one there is no counter, so the ledger's charges this
    /// calendar month stand in (<c>source</c> says which).
    /// </summary>
    private static async Task ReadSpendAsync(HttpContext context, TenancyStore store, IConnectionMultiplexer redis, TimeProvider timeProvider, string? tenantId)
    {
        var owners = new List<(string Scope, Limits Limits, string Id)>();
        if (tenantId is null)
        {
            owners.AddRange((await store.ListTenantsAsync()).Select(t => ("tenant", (Limits)t, t.Id)));
        }
        else if (await FindTenantAsync(context, store, tenantId) is { } tenant)
        {
            owners.Add(("tenant", tenant, tenant.Id));
            owners.AddRange((await store.ListKeysAsync()).Where(k => k.TenantId == tenant.Id && k.RevokedAt is null).Select(k => ("key", (Limits)k, k.Id)));
        }
        else
        {
            return; // FindTenantAsync answered 404
        }
        var spend = await store.ReadSpendAsync(owners);
        var now = timeProvider.GetUtcNow();
        var month = BudgetPeriod.Current(BudgetPeriods.Monthly, now);
        var charged = owners.Any(o => o.Limits.BudgetUsd is null)
            ? await Usage.UsageLedger.CostThisMonthAsync(redis.GetDatabase(), now)
            : [];
        await WriteAsync(context, StatusCodes.Status200OK, ListOf.Of(owners.Select((owner, i) =>
        {
            var fromLedger = owner.Limits.BudgetUsd is null;
            var period = fromLedger ? month : spend[i].Period;
            return new
            {
                scope = owner.Scope,
                id = owner.Id,
                budgetUsd = owner.Limits.BudgetUsd,
                budgetPeriod = owner.Limits.BudgetPeriod,
                periodStart = period.End is null ? (DateTimeOffset?)null : period.Start, // all time has no start
                periodEnd = period.End,
                spentUsd = BudgetPeriod.FromNanoUsd(fromLedger ? charged.GetValueOrDefault(owner.Id) : spend[i].SpentNanoUsd),
                source = fromLedger ? "ledger" : "budget",
            };
        })));
    }

    private static async Task CreateKeyAsync(HttpContext context, TenancyStore store)
    {
        if (await ReadAsync(context, new VirtualKey(), requireName: true, otherFields: ["tenantId"]) is not { } input)
        {
            return;
        }
        if (input.Body["tenantId"] is not JsonValue tenantId || !tenantId.TryGetValue<string>(out var tenantIdText)
            || await store.GetTenantAsync(tenantIdText) is not { } tenant)
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status400BadRequest,
                "'tenantId' must name an existing tenant (create one with POST /admin/v1/tenants).", OpenAIError.InvalidRequest, param: "tenantId");
            return;
        }
        var (key, plaintext) = await store.CreateKeyAsync(tenant, (VirtualKey)input.Limits);
        await WriteAsync(context, StatusCodes.Status201Created, View(key, plaintext));
    }

    private static async Task ListKeysAsync(HttpContext context, TenancyStore store, string? tenantId)
    {
        var keys = await store.ListKeysAsync();
        await WriteAsync(context, StatusCodes.Status200OK, ListOf.Of(keys.Where(k => tenantId is null || k.TenantId == tenantId).Select(k => View(k))));
    }

    private static async Task GetKeyAsync(HttpContext context, TenancyStore store, string id)
    {
        if (await FindKeyAsync(context, store, id) is { } key)
        {
            await WriteAsync(context, StatusCodes.Status200OK, View(key));
        }
    }

    private static async Task UpdateKeyAsync(HttpContext context, TenancyStore store, string id)
    {
        if (await FindKeyAsync(context, store, id) is { } key
            && await ReadAsync(context, key, requireName: false, otherFields: []) is { } update)
        {
            await WriteAsync(context, StatusCodes.Status200OK, View(await store.UpdateKeyAsync((VirtualKey)update.Limits)));
        }
    }

    private static async Task RevokeKeyAsync(HttpContext context, TenancyStore store, TimeProvider timeProvider, string id)
    {
        if (await FindKeyAsync(context, store, id) is { } key)
        {
            var revoked = key.RevokedAt is null ? await store.UpdateKeyAsync(key with { RevokedAt = timeProvider.GetUtcNow() }, "key.revoked") : key;
            await WriteAsync(context, StatusCodes.Status200OK, View(revoked));
        }
    }

    /// <summary>A key as the admin API shows it: never its hash; the key itself only in the answer that created it.</summary>
    private static object View(VirtualKey key, string? plaintext = null) => new
    {
        id = key.Id,
        @object = "key",
        key = plaintext,
        keyHint = key.KeyHint,
        tenantId = key.TenantId,
        name = key.Name,
        rpm = key.Rpm,
        tpm = key.Tpm,
        maxConcurrent = key.MaxConcurrent,
        budgetUsd = key.BudgetUsd,
        budgetPeriod = key.BudgetPeriod,
        models = key.Models,
        expiresAt = key.ExpiresAt,
        metadata = key.Metadata,
        cacheEnabled = key.CacheEnabled,
        cacheTtlSeconds = key.CacheTtlSeconds,
        createdAt = key.CreatedAt,
        updatedAt = key.UpdatedAt,
        revokedAt = key.RevokedAt,
    };

    private static async Task<(Limits Limits, JsonObject Body)?> ReadAsync(HttpContext context, Limits current, bool requireName, string[] otherFields)
    {
        var errors = new List<string>();
        using var body = await PooledRequestBody.ReadAsync(context.Request, MaxBodyBytes, context.RequestAborted);
        var json = body is null ? null : LimitsInput.ReadObject(body.Span, errors);
        if (body is null)
        {
            errors.Add($"The request body is larger than {MaxBodyBytes} bytes.");
        }
        var limits = json is null ? current : LimitsInput.Apply(current, json, errors, otherFields);
        if (requireName && json is not null && !json.ContainsKey("name"))
        {
            errors.Add("'name' is required.");
        }
        if (errors.Count > 0)
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status400BadRequest, string.Join(" ", errors), OpenAIError.InvalidRequest);
            return null;
        }
        return (limits, json!);
    }

    private static async Task<Tenant?> FindTenantAsync(HttpContext context, TenancyStore store, string id)
    {
        var tenant = await store.GetTenantAsync(id);
        if (tenant is null)
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status404NotFound, $"No tenant has the id '{id}'.", OpenAIError.NotFound, "tenant_not_found");
        }
        return tenant;
    }

    private static async Task<VirtualKey?> FindKeyAsync(HttpContext context, TenancyStore store, string id)
    {
        var key = await store.GetKeyAsync(id);
        if (key is null)
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status404NotFound, $"No key has the id '{id}'.", OpenAIError.NotFound, "key_not_found");
        }
        return key;
    }

    private static Task WriteAsync(HttpContext context, int status, object value)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(value, context.RequestAborted);
    }
}
