using AgentPlatform.Web.Components.Keys;
using AgentPlatform.Web.Platform;
using Bunit;
using Microsoft.FluentUI.AspNetCore.Components;

namespace AgentPlatform.Tests.Web;

/// <summary>The parts of the tenants and keys page that hold logic, rendered with bUnit.</summary>
public sealed class KeyOnceTests : BunitContext
{
    public KeyOnceTests()
    {
        Services.AddFluentUIComponents();
        JSInterop.Mode = JSRuntimeMode.Loose; // FluentUI's own module calls; the copy is verified below
    }

    [Fact]
    public void A_new_key_is_shown_with_a_copy_button_and_the_parent_is_told_when_the_operator_is_done()
    {
        var copy = JSInterop.SetupVoid("navigator.clipboard.writeText", "ap-secret-key");
        copy.SetVoidResult();
        var dismissed = false;

        var cut = Render<KeyOnce>(parameters => parameters
            .Add(k => k.Plaintext, "ap-secret-key")
            .Add(k => k.Dismissed, () => dismissed = true));

        Assert.Equal("ap-secret-key", cut.Find("[data-testid=new-key]").TextContent);
        Assert.Contains("shown this once", cut.Markup);
        cut.Find("[data-testid=copy-key]").Click();
        Assert.Single(copy.Invocations);
        Assert.Contains("Copied", cut.Find("[data-testid=copy-key]").TextContent);
        Assert.False(dismissed);
        cut.Find("[data-testid=key-done]").Click();
        Assert.True(dismissed);
    }

    [Theory]
    [InlineData("Acme", "", "", null)]
    [InlineData("Acme", "600", "25.50", null)]
    [InlineData(" ", "", "", "A name is needed.")]
    [InlineData("Acme", "0", "", "Requests per minute must be a whole number above 0")]
    [InlineData("Acme", "ten", "", "Requests per minute must be a whole number above 0")]
    [InlineData("Acme", "", "-3", "The budget must be an amount in USD")]
    [InlineData("Acme", "", "12,50", "The budget must be an amount in USD")]
    public void A_form_with_a_bad_field_says_which_and_how(string name, string rpm, string budget, string? problem)
    {
        var form = new LimitsForm { Name = name, Rpm = rpm, BudgetUsd = budget };

        if (problem is null)
        {
            Assert.Null(form.Problem());
        }
        else
        {
            Assert.StartsWith(problem, form.Problem());
        }
    }
}
