using System.Text.Json;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.Contracts.Admin;

namespace AgentPlatform.Tests.Api.Tenancy;

/// <summary>A create or PATCH body as the console writes it and the Api reads it: absent, null and wrong are three different things.</summary>
public sealed class LimitsInputTests
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    [Fact]
    public void A_change_writes_only_its_fields_and_null_for_those_it_clears()
    {
        var change = new LimitsChange { Name = "Acme", Rpm = Patch<int>.Null, BudgetUsd = 12.5m };

        Assert.Equal("""{"name":"Acme","rpm":null,"budgetUsd":12.5}""", JsonSerializer.Serialize(change, Web));
    }

    [Fact]
    public void Applied_a_change_sets_what_it_gives_clears_what_is_null_and_leaves_the_rest()
    {
        var current = new Tenant { Name = "Acme", Rpm = 60, Tpm = 1000, BudgetUsd = 5m, Models = ["a"] };
        var errors = new List<string>();

        var change = LimitsInput.Read("""{"rpm":null,"tpm":2000,"models":["b","b","c"]}"""u8, errors)!;
        var changed = (Tenant)LimitsInput.Apply(current, change, errors, takesTenantId: false);

        Assert.Empty(errors);
        Assert.Null(changed.Rpm);
        Assert.Equal(2000, changed.Tpm);
        Assert.Equal(["b", "c"], changed.Models);
        Assert.Equal(5m, changed.BudgetUsd);
        Assert.Equal("Acme", changed.Name);
    }

    [Fact]
    public void Every_wrong_field_is_named_at_once_and_the_current_values_stay()
    {
        var current = new Tenant { Name = "Acme", Rpm = 60 };
        var errors = new List<string>();

        var change = LimitsInput.Read("""{"name":null,"rpm":"600","tpm":1.5,"budgetPeriod":"hourly","cacheEnabled":"yes","expiresAt":"soon","Rpm":5,"tenantId":"t"}"""u8, errors)!;
        var changed = LimitsInput.Apply(current, change, errors, takesTenantId: false);

        Assert.Equal(60, changed.Rpm);
        Assert.Equal(8, errors.Count);
        foreach (var field in new[] { "'name'", "'rpm'", "'tpm'", "'budgetPeriod'", "'cacheEnabled'", "'expiresAt'", "'Rpm' is not a field", "'tenantId' is not a field" })
        {
            Assert.Contains(errors, error => error.StartsWith(field, StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("[1]")]
    [InlineData("\"name\"")]
    [InlineData("{\"name\":")]
    public void A_body_that_is_not_an_object_is_refused_as_such(string body)
    {
        var errors = new List<string>();

        Assert.Null(LimitsInput.Read(System.Text.Encoding.UTF8.GetBytes(body), errors));
        Assert.Equal(["The request body must be a JSON object."], errors);
    }
}
